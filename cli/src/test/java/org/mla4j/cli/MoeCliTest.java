package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** synth's deepseek2 MoE options, info's expert line, and the memory options of run and bench. */
class MoeCliTest {

    @TempDir
    Path tmp;

    @Test
    void moeVariantRunsAndReportsItsMemory() {
        Path f = tmp.resolve("moe.gguf");
        CliTest.Run s = CliTest.run("synth", "--arch", "deepseek2", "--preset", "tiny", "--experts", "8", "--experts-used",
                "2", "--gating", "sigmoid", "--expert-bias", "--groups", "4", "--groups-used", "2", "--yarn", "4", "-o",
                f.toString());
        assertEquals(0, s.code(), s.err());
        CliTest.Run info = CliTest.run("info", f.toString());
        assertTrue(info.out().contains("experts:         1 MoE layers (from layer 1): 8 routed, top 2, 1 shared"), info.out());
        assertTrue(info.out().contains("sigmoid gating with selection bias, 4 groups (2 used)"), info.out());
        assertTrue(info.out().contains("yarn:            factor 4"), info.out());
        for (String mode : new String[] {"--mmap", "--no-mmap"}) {
            CliTest.Run r = CliTest.run("run", "-m", f.toString(), "-p", "hi", "-n", "3", "--temp", "0", "--verbose", mode);
            assertEquals(0, r.code(), r.err());
            assertTrue(r.err().contains("memory: weights " + (mode.equals("--mmap") ? "memory-mapped" : "in memory")),
                    r.err());
            assertTrue(r.err().contains(", RSS "), r.err());
        }
        CliTest.Run b = CliTest.run("bench", "-m", f.toString(), "-p", "8", "-n", "2", "-r", "1", "-t", "1");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.err().contains("memory: weights"), b.err());
        assertFalse(b.out().contains("memory:"), "the table on stdout stays llama-bench's");
    }

    @Test
    void badVariantsAreUsageErrors() {
        Path f = tmp.resolve("bad.gguf");
        CliTest.Run r = CliTest.run("synth", "--arch", "deepseek2", "--preset", "tiny", "--gating", "relu", "-o", f.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--gating must be softmax or sigmoid"), r.err());
        r = CliTest.run("synth", "--arch", "deepseek2", "--preset", "tiny", "--experts", "4", "--experts-used", "5", "-o",
                f.toString());
        assertEquals(2, r.code());
        r = CliTest.run("synth", "--arch", "llama", "--preset", "tiny", "--experts", "4", "-o", f.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--arch deepseek2"), r.err());
        assertFalse(Files.exists(f), "no partial output");
    }
}
