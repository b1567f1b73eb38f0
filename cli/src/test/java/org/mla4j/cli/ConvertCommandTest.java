package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;

/** `mla4j convert` as a user sees it: the dry-run plan, the written file, one-line errors, exit codes, no debris. */
class ConvertCommandTest {
    @TempDir
    Path tmp;

    @Test
    void dryRunPrintsThePlanOfAGgufFile() {
        String stories = Fixtures.require("models/stories260K.gguf").toString();
        CliTest.Run r = CliTest.run("convert", stories, "--method", "transmla", "--dry-run", "--kv-cache", "32");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("-> deepseek2"), r.out());
        assertTrue(r.out().contains("KV cache values per token per layer: 64 -> 32 (50.00% removed)"), r.out());
        // The cost of the measured steps (stories260K is small: the search and the fit run).
        assertTrue(r.out().contains("measured steps (models under 50M parameters: yes): search "), r.out());
        assertTrue(r.out().contains("attention fit on the converted inputs"), r.out());
        assertTrue(r.out().contains("estimated time on 2 cores: ~"), r.out());
        r = CliTest.run("convert", stories, "--method", "mha2mla", "--dry-run", "--rope-dims", "2", "--kv-rank", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("64 -> 16 (75.00% removed)"), r.out());
    }

    /** Llama-2-7B's config.json as published (meta-llama/Llama-2-7b-hf), no weights. */
    static final String LLAMA2_7B_CONFIG = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
             "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
             "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false,
             "torch_dtype": "float16", "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu"}
            """;

    @Test
    void dryRunOnLlama2ConfigGivesThePapersFigures() throws Exception {
        Path config = tmp.resolve("config.json");
        Files.writeString(config, LLAMA2_7B_CONFIG);
        String[] dkv = {"64", "32", "16"};
        String[] removed = {"68.75", "81.25", "87.50"};
        for (int i = 0; i < 3; i++) {
            CliTest.Run r = CliTest.run("convert", config.toString(), "--dry-run", "--method", "mha2mla", "--rope-dims", "16",
                    "--kv-rank", dkv[i]);
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("8192 -> " + (32 * (16 + Integer.parseInt(dkv[i]))) + " (" + removed[i] + "% removed)"),
                    r.out());
        }
        CliTest.Run r = CliTest.run("convert", tmp.toString(), "--dry-run", "--method", "transmla");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("KV cache values per token per layer: 8192 -> 576 (92.97% removed)"), r.out());
        assertTrue(r.out().contains("kv_lora_rank 512, q_lora_rank 0, rope dim 64"), r.out());
    }

    @Test
    void convertsStories260KAndSaysWhatItWrote() throws Exception {
        String stories = Fixtures.require("models/stories260K.gguf").toString();
        Path out = tmp.resolve("stories-mla.gguf");
        CliTest.Run r = CliTest.run("convert", stories, "-o", out.toString(), "--method", "mha2mla", "--kv-cache", "32",
                "--calib-tokens", "256", "--search", "off", "-t", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("wrote " + out + ": mha2mla, KV cache 64 -> 32"), r.err());
        CliTest.Run info = CliTest.run("info", out.toString());
        assertEquals(0, info.code(), info.err());
        assertTrue(info.out().contains("mha2mla"), info.out());
        CliTest.Run gen = CliTest.run("run", "-m", out.toString(), "-p", "Once upon a time", "-n", "8", "--temp", "0");
        assertEquals(0, gen.code(), gen.err());
    }

    @Test
    void impossibleOptionsGiveOneLineAndNoFile() throws Exception {
        String stories = Fixtures.require("models/stories260K.gguf").toString();
        Path out = tmp.resolve("bad.gguf");
        String[][] cases = {
            {"--method", "mha2mla", "--rope-dims", "3"},
            {"--method", "mha2mla", "--kv-rank", "100"},
            {"--method", "transmla", "--kv-lora-rank", "1000"},
            {"--method", "transmla", "--rope-dim", "6"},
            {"--method", "nope"},
        };
        for (String[] c : cases) {
            String[] args = Stream.concat(Stream.of("convert", stories, "-o", out.toString()), Stream.of(c))
                    .toArray(String[]::new);
            CliTest.Run r = CliTest.run(args);
            assertTrue(r.code() == 1 || r.code() == 2, String.join(" ", c) + " -> " + r.code());
            assertEquals(1, r.err().lines().filter(l -> l.startsWith("mla4j")).count(), r.err());
            assertFalse(Files.exists(out), String.join(" ", c));
        }
        try (Stream<Path> left = Files.list(tmp)) {
            assertEquals(0, left.count(), "no temporary files left");
        }
    }

    @Test
    void missingOrForeignInputIsAOneLineError() throws Exception {
        CliTest.Run r = CliTest.run("convert", tmp.resolve("none.gguf").toString(), "-o", tmp.resolve("o.gguf").toString(),
                "--method", "mha2mla");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mla4j: error: ") && r.err().contains("none.gguf"), r.err());
        Path junk = tmp.resolve("junk.gguf");
        Files.writeString(junk, "not a gguf file at all");
        r = CliTest.run("convert", junk.toString(), "-o", tmp.resolve("o.gguf").toString(), "--method", "mha2mla");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("junk.gguf"), r.err());
        assertFalse(Files.exists(tmp.resolve("o.gguf")));
    }
}
