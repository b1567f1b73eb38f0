package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** synth --format hf, then info and run on the directory; bad directories exit 1 with one line. */
class HfCliTest {
    @TempDir
    Path tmp;

    @Test
    void synthHfThenInfoAndRun() throws Exception {
        Path dir = tmp.resolve("tiny-hf");
        CliTest.Run s = CliTest.run("synth", "--arch", "qwen2", "--preset", "tiny", "--type", "bf16", "--format", "hf",
                "-o", dir.toString());
        assertEquals(0, s.code(), s.err());
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        assertTrue(Files.readString(dir.resolve("config.json")).contains("\"torch_dtype\" : \"bfloat16\""));
        CliTest.Run info = CliTest.run("info", dir.toString(), "--no-tensors");
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("architecture:    qwen2") && info.out().contains("types: F32 11, BF16 16"),
                info.out());
        CliTest.Run r = CliTest.run("run", "-m", dir.toString(), "-p", "hello", "-n", "8", "--seed", "1");
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().isBlank());

        assertEquals(2, CliTest.run("synth", "--preset", "tiny", "--type", "q8_0", "--format", "hf", "-o",
                tmp.resolve("x").toString()).code());
        assertFalse(Files.exists(tmp.resolve("x")));

        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"BertModel\"]}");
        CliTest.Run bad = CliTest.run("run", "-m", dir.toString(), "-p", "hello", "-n", "2");
        assertEquals(1, bad.code());
        assertEquals(1, bad.err().strip().lines().count(), bad.err());
        assertTrue(bad.err().contains("architecture 'BertModel' is not supported"), bad.err());
    }
}
