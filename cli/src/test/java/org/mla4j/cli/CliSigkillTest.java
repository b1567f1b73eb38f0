package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.reliability.KillMidWrite;

/**
 * The CLI's writers (synth, quantize) SIGKILLed mid-write: the output path holds nothing, or the previous complete
 * file (docs/RELIABILITY.md). The process is the real command line: org.mla4j.cli.Main in a child JVM.
 */
@Timeout(300)
class CliSigkillTest {

    @TempDir
    Path tmp;

    static final String MAIN = Main.class.getName();

    @Test
    void synthKilledMidWrite() throws Exception {
        Path target = tmp.resolve("llama-1b.gguf");
        String[] args = {"synth", "--preset", "1b", "--type", "q4_0", "-o", target.toString()};
        assertTrue(KillMidWrite.killAndCheck(target, 1 << 20, MAIN, args).killedMidWrite());
        assertFalse(Files.exists(target));
        // Again over a complete previous file.
        assertEquals(0, CliTest.run("synth", "--preset", "tiny", "--type", "q8_0", "-o", target.toString()).code());
        assertTrue(KillMidWrite.killAndCheck(target, 1 << 20, MAIN, args).killedMidWrite());
    }

    @Test
    void quantizeKilledMidWrite() throws Exception {
        Path input = tmp.resolve("small-f32.gguf");
        assertEquals(0, CliTest.run("synth", "--preset", "small", "--type", "f32", "-o", input.toString()).code());
        Path target = tmp.resolve("small-q4_0.gguf");
        String[] args = {"quantize", input.toString(), target.toString(), "--type", "q4_0"};
        assertTrue(KillMidWrite.killAndCheck(target, 64 << 10, MAIN, args).killedMidWrite());
        assertFalse(Files.exists(target));
        assertEquals(0, CliTest.run("quantize", input.toString(), target.toString(), "--type", "q8_0").code());
        assertTrue(KillMidWrite.killAndCheck(target, 64 << 10, MAIN, args).killedMidWrite());
    }
}
