package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;

/** The command line as a user sees it: output, one-line errors and exit codes. */
class CliTest {

    static final String REFERENCE = "Once upon a time, there was a little girl named Lily. She loved to play outside "
            + "in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
    }

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void greedyRunPrintsTheReferenceText() {
        String model = Fixtures.require("models/stories260K.gguf").toString();
        Run r = run("run", "-m", model, "-p", "Once upon a time", "-n", "60", "--temp", "0", "-t", "2");
        assertEquals(0, r.code(), r.err());
        assertEquals(REFERENCE + "\n", r.out());
        assertTrue(r.err().contains("tokens/s"), r.err());
    }

    @Test
    void usageErrorsExitWith2() {
        Run r = run("run", "-m", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("mla4j: Missing required option: '--prompt=<prompt>'"), r.err());
        assertEquals(2, run("no-such-command").code());
        assertEquals(2, run("quantize", "a", "b", "--type", "q5_9").code());
    }

    @Test
    void runtimeErrorsAreOneLineWithExit1() {
        Run r = run("info", tmp.resolve("missing.gguf").toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("mla4j: error: ") && r.err().contains("missing.gguf: cannot open"), r.err());
        Run verbose = run("info", tmp.resolve("missing.gguf").toString(), "--verbose");
        assertEquals(1, verbose.code());
        assertTrue(verbose.err().contains("at org.mla4j"), "stack trace with --verbose: " + verbose.err());
    }

    @Test
    void quantizeThenInfoShowsMixedTypes() throws Exception {
        Path in = Fixtures.require("models/stories260K.gguf");
        Path out = tmp.resolve("q8.gguf");
        Run q = run("quantize", in.toString(), out.toString(), "--type", "q8_0");
        assertEquals(0, q.code(), q.err());
        assertTrue(q.err().contains("blk.0.ffn_down.weight: rows are not whole Q8_0 blocks; written as F32"),
                q.err());
        Run info = run("info", out.toString());
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("types: F32 16, Q8_0 32"), info.out());
        assertTrue(info.out().matches("(?s).*blk\\.0\\.attn_q\\.weight\\s+Q8_0\\s+\\[64, 64\\]\\s+4352.*"), info.out());
        assertTrue(info.out().contains("kv cache:        bytes/token: 1280 (F32), 640 (F16);"), info.out());
        Run gen = run("run", "-m", out.toString(), "-p", "Once upon a time", "-n", "60", "--temp", "0");
        assertEquals(REFERENCE + "\n", gen.out());
    }

    @Test
    void synthWritesARunnableModelAndNoPartialFileOnError() throws Exception {
        Path model = tmp.resolve("tiny.gguf");
        Run s = run("synth", "--arch", "llama", "--preset", "tiny", "--type", "q4_0", "-o", model.toString());
        assertEquals(0, s.code(), s.err());
        assertTrue(s.err().contains("RANDOM weights"), s.err());
        Run r = run("run", "-m", model.toString(), "-p", "hello", "-n", "8", "--seed", "1");
        assertEquals(0, r.code(), r.err());
        Run bench = run("bench", "-m", model.toString(), "-p", "16", "-n", "4", "-r", "2", "-t", "1");
        assertEquals(0, bench.code(), bench.err());
        assertTrue(bench.out().contains("| pp16 |") || bench.out().matches("(?s).*\\|\\s+pp16 \\|.*"), bench.out());
        assertTrue(bench.out().matches("(?s).*\\|\\s+tg4 \\|\\s+[0-9.]+ ± [0-9.]+ \\|.*"), bench.out());
        Run json = run("bench", "-m", model.toString(), "-p", "8", "-n", "0", "-r", "1", "-o", "json");
        assertTrue(json.out().contains("\"n_prompt\": 8") && json.out().contains("\"avg_ts\""), json.out());

        Path bad = tmp.resolve("bad.gguf");
        assertEquals(2, run("synth", "--preset", "nope", "-o", bad.toString()).code());
        assertFalse(Files.exists(bad));
    }
}
