package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** {@code mla4j eval} as a user sees it. */
class EvalCommandTest {

    @TempDir
    Path tmp;

    static String stories() {
        return Fixtures.require("models/stories260K.gguf").toString();
    }

    @Test
    void jsonOfAModelAgainstItself() throws Exception {
        String m = stories();
        CliTest.Run r = CliTest.run("eval", "-m", m, "--reference", m, "--generate", "300", "--ctx", "100", "-t", "1",
                "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().lines().count(), r.out());
        JsonNode j = new ObjectMapper().readTree(r.out());
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("ppl_reference", "ppl_converted", "kl_mean", "kl_max", "top1_agreement",
                "max_abs_logit_diff", "tokens"), keys);
        j.forEach(v -> assertTrue(v.isNumber(), "number: " + v));
        assertEquals(297, j.get("tokens").asLong()); // 300 tokens in 3 sequences of 100 (no EOS at seed 1234)
        assertEquals(0.0, j.get("kl_mean").asDouble());
        assertEquals(0.0, j.get("kl_max").asDouble());
        assertEquals(1.0, j.get("top1_agreement").asDouble());
        assertEquals(0.0, j.get("max_abs_logit_diff").asDouble());
        assertEquals(j.get("ppl_reference").asDouble(), j.get("ppl_converted").asDouble());
        assertTrue(r.err().contains("300 tokens sampled from " + m + " (seed 1234) in 3 sequences of at most 100"),
                r.err());
    }

    @Test
    void tableOnATextFileWithAnotherCacheType() throws Exception {
        String m = stories();
        Path text = tmp.resolve("story.txt");
        Files.writeString(text, CliTest.REFERENCE);
        CliTest.Run r = CliTest.run("eval", "-m", m, "--reference", m, "--text", text.toString(), "--cache-type", "f32",
                "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s)positions\\s+\\d+\\nperplexity original\\s+[0-9.]+\\nperplexity converted\\s+"
                + "[0-9.]+\\nKL mean \\(nats\\)\\s+[0-9.]+e-\\d+\\nKL max \\(nats\\)\\s+[0-9.]+e-\\d+\\ntop-1 agreement\\s+"
                + "[0-9.]+%\\nmax \\|logit diff\\|\\s+[0-9.e-]+\\n"), r.out());
        assertTrue(r.err().contains("text: " + text + ", "), r.err());
    }

    @Test
    void helpOfTheSubcommandWorksAsTheErrorMessagesSuggest() {
        CliTest.Run r = CliTest.run("eval", "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: mla4j eval ") && r.out().contains("--reference=ORIGINAL"), r.out());
    }

    @Test
    void usageErrorsExitWith2() {
        String m = stories();
        CliTest.Run both = CliTest.run("eval", "-m", m, "--reference", m, "--text", "x.txt", "--generate", "10");
        assertEquals(2, both.code());
        assertTrue(both.err().startsWith("mla4j: give either --text or --generate, not both\n"), both.err());
        CliTest.Run missing = CliTest.run("eval", "--reference", m);
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("mla4j: Missing required option: '--model=CONVERTED'"), missing.err());
        assertEquals(2, CliTest.run("eval", "-m", m, "--reference", m, "--generate", "1").code());
        assertEquals(2, CliTest.run("eval", "-m", m, "--reference", m, "--cache-type", "q5_1").code());
    }

    @Test
    void runtimeErrorsAreOneLineWithExit1() throws Exception {
        String m = stories();
        Path absent = tmp.resolve("absent.gguf");
        CliTest.Run r = CliTest.run("eval", "-m", absent.toString(), "--reference", m);
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("mla4j: error: ") && r.err().contains("absent.gguf"), r.err());

        CliTest.Run noText = CliTest.run("eval", "-m", m, "--reference", m, "--text", tmp.resolve("no.txt").toString());
        assertEquals(1, noText.code());
        assertEquals("mla4j: error: " + tmp.resolve("no.txt") + ": no such file", noText.err().strip());

        Path other = tmp.resolve("tiny.gguf");
        assertEquals(0, CliTest.run("synth", "--arch", "llama", "--preset", "tiny", "-o", other.toString()).code());
        CliTest.Run mismatch = CliTest.run("eval", "-m", other.toString(), "--reference", m);
        assertEquals(1, mismatch.code());
        assertEquals(1, mismatch.err().strip().lines().count(), mismatch.err());
        assertTrue(mismatch.err().startsWith("mla4j: error: cannot compare " + other + " with " + m
                + ": their tokenizers differ at token "), mismatch.err());
        CliTest.Run verbose = CliTest.run("eval", "-m", other.toString(), "--reference", m, "--verbose");
        assertTrue(verbose.err().contains("at org.mla4j.eval.Evaluator.checkCompatible"), verbose.err());
    }
}
