package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mla4j.EmbeddedModel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** run, chat, eval and convert given no model use the embedded stories260K, say so on stderr, and need no fixtures. */
class DefaultModelTest {

    static final String NOTE = "using the embedded stories260K model (";

    @Test
    void runWithoutAModelIsLlama2csPublishedOutput() {
        CliTest.Run r = CliTest.run("run", "-p", "Once upon a time", "-n", "60", "--temp", "0", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertEquals(CliTest.REFERENCE + "\n", r.out());
        assertTrue(r.err().startsWith("mla4j: no -m given: " + NOTE + EmbeddedModel.path() + ")\n"), r.err());
    }

    /** In a child JVM: chat installs a Ctrl-C handler, which has no place in the test JVM. */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void chatWithoutAModelStreamsAReply() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "org.mla4j.cli.Main", "chat", "--temp", "0", "-n", "20", "-t", "1")
                .redirectError(ProcessBuilder.Redirect.PIPE).start();
        try (var stdin = p.getOutputStream()) {
            stdin.write("Once upon a time\n/exit\n".getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), err);
        assertTrue(err.contains("no -m given: " + NOTE), err);
        // stories260K has no chat template: the plain fallback continues the text, as greedy generation does.
        assertTrue(out.contains("Chatting with stories260K.gguf: it has no chat template"), out);
        assertTrue(out.contains("> , there was a little girl named Lily."), out);
    }

    @Test
    void evalWithoutAReferenceComparesWithTheEmbeddedModel() throws Exception {
        String m = EmbeddedModel.path().toString();
        CliTest.Run r = CliTest.run("eval", "-m", m, "--generate", "100", "-t", "1", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("no --reference given: " + NOTE), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(0.0, j.get("kl_mean").asDouble()); // the same file on both sides
        assertEquals(1.0, j.get("top1_agreement").asDouble());
    }

    @Test
    void convertDryRunWithoutAnInputPlansTheEmbeddedModel() {
        CliTest.Run r = CliTest.run("convert", "--method", "transmla", "--kv-cache", "32", "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("no INPUT given: " + NOTE), r.err());
        // stories260K: 4 KV heads x head dim 8 x (K and V) = 64 values per token and layer.
        assertTrue(r.out().contains("source: llama, 5 layers, n_embd 64, 8 heads, 4 KV heads, head dim 8"), r.out());
        assertTrue(r.out().contains("KV cache values per token per layer: 64 -> 32 (50.00% removed)"), r.out());
    }

    @Test
    void convertWithoutAnOutputIsStillAUsageError() {
        CliTest.Run r = CliTest.run("convert", "--method", "transmla");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("mla4j: -o OUTPUT is required (or --dry-run)"), r.err());
    }
}
