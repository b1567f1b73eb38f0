package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.TensorSource;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/** Bad Hugging Face input: each gives an exception naming the file and the problem, and no output file. */
class HostileHfTest {
    @TempDir
    Path tmp;

    /** A safetensors file from a JSON header and a data section. */
    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = Files.createTempFile(tmp, "t", ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    private void refused(Path p, String... phrases) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        for (String s : phrases) assertTrue(e.getMessage().contains(s), e.getMessage());
    }

    @Test
    void validFileOpens() throws IOException {
        Path p = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},\"__metadata__\":{\"format\":\"pt\"}}", 32);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("a", "b"), f.names());
            assertEquals(24, f.tensor("a").orElseThrow().data().byteSize());
            assertEquals(SafetensorsDtype.BF16, f.tensor("b").orElseThrow().dtype());
            assertEquals("pt", f.metadata().get("format"));
        }
    }

    @Test
    void malformedFilesAreRefused() throws IOException {
        String ok = "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
        refused(file("{" + ok.replace("[0,24]", "[0,40]") + "}", 24), "tensor 'a'", "past the end");
        refused(file("{" + ok + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}}", 24),
                "tensor 'b'", "overlaps");
        refused(file("{" + ok.replace("[2,3]", "[2,2]") + "}", 24), "tensor 'a'", "needs 16");
        refused(file("{" + ok.replace("F32", "F8_E4M3") + "}", 24), "tensor 'a'", "F8_E4M3", "does not support");
        refused(file("{" + ok.replace("F32", "Q9") + "}", 24), "tensor 'a'", "not a safetensors dtype");
        refused(file("{" + ok.replace("[2,3]", "[-2,3]") + "}", 24), "tensor 'a'", "invalid dimension");
        refused(file("{" + ok.replace("[2,3]", "[4294967296,4294967296,4294967296]") + "}", 24), "too large");
        refused(file("{" + ok + "}", 30), "cover 24 bytes", "has 30");
        refused(file("[1,2]", 0), "not a JSON object");
        refused(file("{\"a\":", 0), "not valid JSON");
        refused(file("{" + ok + "," + ok + "}", 24), "not valid JSON"); // duplicate key
        // header length past the end of the file
        Path p = file("{" + ok + "}", 24);
        byte[] bytes = Files.readAllBytes(p);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(p, bytes);
        refused(p, "header length", "past the end");
    }

    @Test
    void truncatedFilesAreRefused() throws IOException {
        Path p = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24);
        byte[] full = Files.readAllBytes(p);
        for (int len : new int[] {0, 5, 8, 20, full.length - 24, full.length - 1}) {
            Path t = tmp.resolve("trunc" + len + ".safetensors");
            Files.write(t, Arrays.copyOf(full, len));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SafetensorsFile.open(t).close(), "length " + len);
            assertTrue(e.getMessage().startsWith(t.toString()), e.getMessage());
        }
    }

    /** A valid llama directory written from the tiny synth model. */
    private Path llamaDir() throws IOException {
        Path g = tmp.resolve("tiny.gguf");
        Synth.write(SynthSpec.preset("tiny"), GgmlType.F32, 5, g, ProgressListener.NONE);
        Path dir = tmp.resolve("hf");
        try (GgufFile f = GgufFile.open(g)) {
            GgufToHf.write(f, dir, null, ProgressListener.NONE);
        }
        return dir;
    }

    /** Rewrites model.safetensors without {@code drop}, and with {@code reshape} given shape [cols, rows]. */
    private void rewrite(Path dir, String drop, String reshape) throws IOException {
        Path st = dir.resolve(HfModelDir.SINGLE);
        Path copy = tmp.resolve("orig.safetensors");
        Files.move(st, copy);
        try (SafetensorsFile f = SafetensorsFile.open(copy)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : f.names()) {
                if (n.equals(drop)) continue;
                SafetensorsFile.Tensor t = f.tensor(n).orElseThrow();
                long[] shape = n.equals(reshape) ? new long[] {t.dim(1), t.dim(0)} : t.shape();
                w.add(n, t.dtype(), shape, TensorSource.of(t.data()));
            }
            w.write(st);
        }
    }

    private void conversionRefused(Path dir, String... phrases) throws IOException {
        Path out = tmp.resolve("out.gguf");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (HfModelDir d = HfModelDir.open(dir)) {
                HfToGguf.write(d, out, ProgressListener.NONE);
            }
        });
        for (String s : phrases) assertTrue(e.getMessage().contains(s), e.getMessage());
        assertFalse(Files.exists(out));
        try (var files = Files.list(tmp)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().startsWith(".out.gguf")), "temp file left");
        }
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path dir = llamaDir();
        rewrite(dir, "model.layers.1.mlp.up_proj.weight", null);
        conversionRefused(dir, dir.toString(), "missing tensor 'model.layers.1.mlp.up_proj.weight'", "[128, 64]");
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path dir = llamaDir();
        rewrite(dir, null, "model.layers.0.self_attn.k_proj.weight");
        conversionRefused(dir, "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 32], expected [32, 64]");
    }

    @Test
    void unknownArchitectureAndBadConfigAreNamed() throws IOException {
        Path dir = llamaDir();
        Path config = dir.resolve(HfModelDir.CONFIG);
        String json = Files.readString(config);
        Files.writeString(config, json.replace("LlamaForCausalLM", "GPTNeoXForCausalLM"));
        conversionRefused(dir, config.toString(), "architecture 'GPTNeoXForCausalLM' is not supported");
        Files.writeString(config, json.replace("\"num_key_value_heads\" : 2", "\"num_key_value_heads\" : 3"));
        conversionRefused(dir, config.toString(), "num_key_value_heads 3 does not divide num_attention_heads 4");
        Files.writeString(config, json.replace("\"rope_scaling\" : null", "\"rope_scaling\" : {\"rope_type\": \"yarn\"}"));
        conversionRefused(dir, "rope_scaling type 'yarn' is not supported");
        Files.writeString(config, json.replace("LlamaForCausalLM", "DeepseekV3ForCausalLM"));
        conversionRefused(dir, "first_k_dense_replace 0 must equal num_hidden_layers 2");
    }

    @Test
    void shardProblemsAreNamed() throws IOException {
        Path dir = llamaDir();
        Files.writeString(dir.resolve(HfModelDir.INDEX), "{\"weight_map\": {\"model.norm.weight\": \"missing.safetensors\"}}");
        conversionRefused(dir, "shard 'missing.safetensors'", "does not exist");
        Files.writeString(dir.resolve(HfModelDir.INDEX), "{\"weight_map\": {\"nope\": \"model.safetensors\"}}");
        conversionRefused(dir, "tensor 'nope' is not in its shard");
        Files.writeString(dir.resolve(HfModelDir.INDEX), "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
        conversionRefused(dir, "not a file name in the directory");
    }

    @Test
    void ggufThatCannotBeExpressedIsRefusedWithoutOutput() throws IOException {
        Path g = tmp.resolve("m.gguf");
        Synth.write(org.mla4j.synth.MlaSynthSpec.preset("mha2mla-tiny"), GgmlType.F32, 1, g, ProgressListener.NONE);
        Path out = tmp.resolve("m-hf");
        try (GgufFile f = GgufFile.open(g)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GgufToHf.write(f, out, null, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("mha2mla cannot be written"), e.getMessage());
        }
        assertFalse(Files.exists(out));
    }
}
