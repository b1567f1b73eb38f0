package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance 5 of the converter issue through `mla4j convert` on Hugging Face directories: an unknown architecture,
 * a missing tensor, a wrong shape, a truncated safetensors file, an impossible rank and odd rope dims each give one
 * error line naming the problem, exit code 1 or 2, and no output file (nor a temporary one).
 */
class ConvertBadInputTest {
    @TempDir
    Path tmp;

    private Path goodDir(String name) {
        Path dir = tmp.resolve(name);
        CliTest.Run r = CliTest.run("synth", "--arch", "llama", "--preset", "tiny", "--format", "hf", "-o", dir.toString());
        assertEquals(0, r.code(), r.err());
        return dir;
    }

    /** Replaces text of the same length inside the safetensors JSON header. */
    private static void editHeader(Path st, String from, String to) throws Exception {
        assertEquals(from.length(), to.length());
        byte[] b = Files.readAllBytes(st);
        int headerLen = (int) (b[0] & 0xff | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16);
        String header = new String(b, 8, headerLen, StandardCharsets.UTF_8);
        assertTrue(header.contains(from), header);
        byte[] edited = header.replace(from, to).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(edited, 0, b, 8, headerLen);
        Files.write(st, b);
    }

    private void refused(Path in, String expect, String... options) throws Exception {
        Path out = tmp.resolve("out.gguf");
        String[] args = Stream.concat(Stream.of("convert", in.toString(), "-o", out.toString(), "--calib-tokens", "64"),
                Arrays.stream(options)).toArray(String[]::new);
        CliTest.Run r = CliTest.run(args);
        assertTrue(r.code() == 1 || r.code() == 2, "exit " + r.code() + ": " + r.err());
        String first = r.err().lines().filter(l -> l.startsWith("mla4j")).findFirst().orElse("");
        assertTrue(first.contains(expect), "expected '" + expect + "' in: " + r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("mla4j")).count(), r.err());
        assertFalse(Files.exists(out), "output left for " + expect);
        try (Stream<Path> files = Files.list(tmp)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().contains("out.gguf")), "temporary file left");
        }
    }

    @Test
    void unknownArchitecture() throws Exception {
        Path dir = goodDir("arch");
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("LlamaForCausalLM", "GPTNeoXForCausalLM"));
        refused(dir, "architecture 'GPTNeoXForCausalLM' is not supported", "--method", "mha2mla");
    }

    @Test
    void missingTensor() throws Exception {
        Path dir = goodDir("missing");
        editHeader(dir.resolve("model.safetensors"), "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weighx");
        refused(dir, "missing tensor 'model.layers.1.mlp.up_proj.weight'", "--method", "transmla");
    }

    @Test
    void wrongShape() throws Exception {
        Path dir = goodDir("shape");
        Path st = dir.resolve("model.safetensors");
        String header = new String(Files.readAllBytes(st), 8, 4000, StandardCharsets.ISO_8859_1);
        int at = header.indexOf("\"model.layers.0.self_attn.k_proj.weight\"");
        int shape = header.indexOf("\"shape\":[", at);
        String dims = header.substring(shape, header.indexOf(']', shape) + 1);
        String[] d = dims.substring(dims.indexOf('[') + 1, dims.length() - 1).split(",");
        editHeader(st, dims, "\"shape\":[" + d[1] + "," + d[0] + "]");
        refused(dir, "tensor 'model.layers.0.self_attn.k_proj.weight' has shape", "--method", "mha2mla");
    }

    @Test
    void truncatedSafetensors() throws Exception {
        Path dir = goodDir("trunc");
        Path st = dir.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(st);
        Files.write(st, Arrays.copyOf(b, b.length / 2));
        refused(dir, st.toString(), "--method", "mha2mla");
    }

    @Test
    void impossibleRankAndOddRopeDims() throws Exception {
        Path dir = goodDir("options");
        refused(dir, "larger than possible", "--method", "mha2mla", "--kv-rank", "1000");
        refused(dir, "must be even", "--method", "mha2mla", "--rope-dims", "3");
        refused(dir, "larger than possible", "--method", "transmla", "--kv-lora-rank", "100000");
        refused(dir, "divide the head size", "--method", "transmla", "--rope-dim", "5");
    }

    /** Only deepseek2 output (transmla, compressed) has a Hugging Face form; the rest is refused before any work. */
    @Test
    void hfFormatOfTheMha2mlaArchitecture() throws Exception {
        Path dir = goodDir("hf");
        refused(dir, "--format hf: --lossless of a model with 2 KV heads writes the mha2mla architecture", "--method", "transmla", "--lossless",
                "--format", "hf");
        refused(dir, "--format hf: --method mha2mla writes the mha2mla architecture", "--method", "mha2mla",
                "--format", "hf");
        assertFalse(Files.exists(tmp.resolve("out-hf")));
    }
}
