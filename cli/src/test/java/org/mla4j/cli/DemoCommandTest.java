package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Model;

/**
 * {@code mla4j demo} on the embedded stories260K, without the shared fixtures: the figures it prints are the real
 * conversion's, within bounds a correct conversion must meet.
 */
class DemoCommandTest {

    @TempDir
    Path tmp;

    /** The first group of pattern in text, or a failure showing the whole output. */
    static String find(String text, String pattern) {
        Matcher m = Pattern.compile(pattern, Pattern.MULTILINE).matcher(text);
        assertTrue(m.find(), "no match for /" + pattern + "/ in:\n" + text);
        return m.group(1);
    }

    @Test
    void printsTheRealConversionFiguresAndBothContinuations() throws Exception {
        // One conversion (the costly part) for every check: -o keeps the model, which is then loaded.
        Path kept = tmp.resolve("stories260K-mla.gguf");
        CliTest.Run r = CliTest.run("demo", "-t", "2", "-o", kept.toString());
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        // stories260K: 5 layers x (K and V) x 4 KV heads x head dim 8 x 2 bytes (F16) = 640 bytes per token; half the
        // cache is 32 values per layer (latent 24 + one shared rope key of 8): 5 x 32 x 2 = 320.
        assertTrue(out.contains("KV cache:   640 bytes per token before, 320 after (F16 cache, all layers): 2.00x "
                + "smaller"), out);
        assertTrue(out.contains("latent 24 + shared rope key 8 = 32 values per token and layer (was 64)"), out);
        // A half-cache conversion is lossy (KL > 0) but must stay close to the original (the measured value is ~0.68
        // nats; a broken conversion, e.g. a wrong RoPE layout, gives several nats and top-1 near chance).
        double kl = Double.parseDouble(find(out, "mean KL\\(original \\|\\| converted\\)\\s+([0-9.]+) nats"));
        assertTrue(kl > 1e-3 && kl < 1.5, "KL " + kl);
        double top1 = Double.parseDouble(find(out, "top-1 agreement\\s+([0-9.]+)%"));
        assertTrue(top1 > 40 && top1 < 100, "top-1 " + top1);
        double pplOriginal = Double.parseDouble(find(out, "perplexity\\s+original ([0-9.]+),"));
        double pplConverted = Double.parseDouble(find(out, "perplexity\\s+original [0-9.]+, converted ([0-9.]+)"));
        // The original's perplexity on its own samples at temperature 1 is its entropy: a few nats of a 512-token vocabulary.
        assertTrue(pplOriginal > 1.5 && pplOriginal < 10, "ppl " + pplOriginal);
        assertTrue(pplConverted > pplOriginal && pplConverted < 4 * pplOriginal, "ppl " + pplConverted);
        assertTrue(out.contains("on 512 tokens the original samples (seed 1234, not the calibration text), 511 positions"),
                out);
        // The original's greedy text is llama2.c's published output for this model (fixtures' SOURCES.md), cut at 48 tokens.
        String original = find(out, "^  original:  (.*)$");
        assertTrue(original.length() > "Once upon a time, there was a little girl".length(), original);
        assertTrue(CliTest.REFERENCE.startsWith(original.replace("\\n", "\n")), original);
        String converted = find(out, "^  converted: (.*)$");
        assertTrue(converted.startsWith("Once upon a time") && converted.length() > "Once upon a time".length() + 20,
                converted);
        double speedOriginal = Double.parseDouble(find(out, "generation ([0-9]+) tokens/s original"));
        double speedConverted = Double.parseDouble(find(out, "([0-9]+) tokens/s converted \\(2 threads, best of 5\\)"));
        assertTrue(speedOriginal > 0 && speedConverted > 0, out);
        assertTrue(out.contains("written to " + kept), out);
        try (Model m = Model.load(kept)) {
            assertEquals("deepseek2", m.hparams().architecture());
            assertEquals(32, m.mla().orElseThrow().cacheWidth());
        }
    }

    @Test
    void badArgumentsAreUsageErrors() {
        CliTest.Run r = CliTest.run("demo", "-n", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("mla4j: -n must be >= 1"), r.err());
    }
}
