package org.mla4j.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;

/** --mmap / --no-mmap / AUTO: how the weights are held is what was asked, and the results do not depend on it. */
class ModelMemoryTest {

    @TempDir
    Path tmp;

    @Test
    void everyModeGivesTheSameLogitsAndReportsItsForm() throws Exception {
        Path file = tmp.resolve("moe-small.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-moe-small"), GgmlType.Q8_0, 3, file, ProgressListener.NONE);
        long size = Files.size(file);
        float[] expected = null;
        for (Model.Mmap mode : Model.Mmap.values()) {
            try (Model m = Model.load(file, Model.LoadOptions.defaults().withMmap(mode));
                    Session s = m.newSession(Session.Options.defaults().withContextSize(32).withThreads(2))) {
                Model.MemoryInfo mi = m.memory();
                assertEquals(size, mi.bytes());
                if (mode == Model.Mmap.ON) assertTrue(mi.mapped(), "--mmap maps the file");
                if (mode == Model.Mmap.OFF) assertFalse(mi.mapped(), "--no-mmap reads the file into memory");
                // AUTO: a 10 MB file is far below a quarter of any test machine's available memory: copied.
                if (mode == Model.Mmap.AUTO) assertFalse(mi.mapped(), "a small file is copied into huge pages");
                float[] logits = s.eval(1, 2, 3, 4).clone();
                if (expected == null) expected = logits;
                assertArrayEquals(expected, logits, 0f, mode + " changed the logits");
            }
        }
        assertTrue(Model.residentSetSize() > size, "the RSS is read from /proc/self/status");
    }

    @Test
    void mlockIsReportedNotFatal() throws Exception {
        Path file = tmp.resolve("tiny.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-tiny"), GgmlType.F32, 3, file, ProgressListener.NONE);
        try (Model m = Model.load(file, new Model.LoadOptions(Model.Mmap.ON, true))) {
            // Locked when RLIMIT_MEMLOCK allows it (root, or a large limit), else reported as not locked: either way
            // the model loads and says which.
            Model.MemoryInfo mi = m.memory();
            assertTrue(mi.mapped());
            try (Model n = Model.load(file, new Model.LoadOptions(Model.Mmap.ON, false))) {
                assertFalse(n.memory().locked());
            }
        }
    }
}
