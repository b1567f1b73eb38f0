package org.mla4j.reliability;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * Crash safety of the Java API's writers: a process SIGKILLed while writing (synth, quantize; both through
 * GgufWriter's temporary file + rename) leaves the target path holding nothing, or the previous complete file.
 * The CLI's own writers are killed the same way in the cli module's tests.
 */
@Timeout(300)
class SigkillTest {

    @TempDir
    Path tmp;

    /** Synth of a 1B-parameter model takes seconds: the kill lands after its first megabyte. */
    static final String[] SYNTH_1B = {"synth", "1b", "Q4_0", "1"};

    @Test
    void synthKilledMidWriteLeavesNoTarget() throws Exception {
        Path target = tmp.resolve("model.gguf");
        KillMidWrite.Outcome o = KillMidWrite.killAndCheck(target, 1 << 20, WriterMain.class.getName(),
                append(SYNTH_1B, target.toString()));
        assertTrue(o.killedMidWrite());
        assertFalse(Files.exists(target));
    }

    @Test
    void synthKilledMidRewriteKeepsThePreviousFile() throws Exception {
        Path target = tmp.resolve("model.gguf");
        Synth.write(SynthSpec.preset("tiny"), GgmlType.Q8_0, 5, target, ProgressListener.NONE);
        assertTrue(KillMidWrite.killAndCheck(target, 1 << 20, WriterMain.class.getName(),
                append(SYNTH_1B, target.toString())).killedMidWrite());
    }

    @Test
    void quantizeKilledMidWriteLeavesNoTargetOrThePreviousFile() throws Exception {
        // 22 MB of F32 weights: quantizing them takes long enough to be caught after the first 64 KiB.
        Path input = tmp.resolve("small-f32.gguf");
        Synth.write(SynthSpec.preset("small"), GgmlType.F32, 3, input, ProgressListener.NONE);
        Path target = tmp.resolve("small-q4_0.gguf");
        String main = WriterMain.class.getName();
        assertTrue(KillMidWrite.killAndCheck(target, 64 << 10, main, "quantize", input.toString(), target.toString(),
                "Q4_0").killedMidWrite());
        assertFalse(Files.exists(target));
        GgufQuantizer.quantize(input, target, GgmlType.Q8_0, d -> { });
        assertTrue(KillMidWrite.killAndCheck(target, 64 << 10, main, "quantize", input.toString(), target.toString(),
                "Q4_0").killedMidWrite());
    }

    static String[] append(String[] a, String last) {
        String[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = last;
        return r;
    }
}
