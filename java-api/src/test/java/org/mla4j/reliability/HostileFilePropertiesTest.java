package org.mla4j.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;
import org.mla4j.tokenizer.Tokenizer;
import org.mla4j.tokenizer.Vocabulary;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A valid model file (tiny synth llama, Q8_0, with its SentencePiece vocabulary) damaged in generated ways:
 * truncated, a byte flipped, or 1/4/8 bytes overwritten with extreme values, mostly in the header where the counts,
 * lengths, types, shapes and offsets are. Through the whole Java path (GgufFile and every metadata value, the
 * tokenizer built from tokenizer.ggml.*, Model.load, a session and an eval) the outcome must be success or an
 * {@link Mla4jException} / IllegalArgumentException with a message; any other exception fails, and a crash would
 * end the test JVM. The native fuzz harnesses do the same below the JVM at a far higher rate. Inputs come from
 * seeded generators ({@link Seeded}): a failure names its seed, and {@code -Dmla4j.seed=SEED} re-runs it alone.
 */
class HostileFilePropertiesTest {

    static final Path DIR;
    static final byte[] ORIGINAL;
    static {
        try {
            DIR = Files.createTempDirectory("mla4j-hostile-props");
            Path seed = DIR.resolve("seed.gguf");
            Synth.write(SynthSpec.preset("tiny"), GgmlType.Q8_0, 11, seed, ProgressListener.NONE);
            ORIGINAL = Files.readAllBytes(seed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A damage: kind 0 truncate at pos, 1 flip bit, 2..4 write a 1/4/8-byte value at pos. */
    record Damage(int kind, int pos, long value) {
        byte[] apply(byte[] in) {
            if (kind == 0) return java.util.Arrays.copyOf(in, pos);
            byte[] out = in.clone();
            ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
            switch (kind) {
                case 1 -> out[pos] ^= (byte) (1 << (value & 7));
                case 2 -> out[pos] = (byte) value;
                case 3 -> b.putInt(Math.min(pos, out.length - 4), (int) value);
                default -> b.putLong(Math.min(pos, out.length - 8), value);
            }
            return out;
        }
    }

    /** Damage anywhere, or (half the time) in the header; values that are edge cases as often as random ones. */
    static Damage damage(Seeded g) {
        int headerEnd = headerSize();
        int pos = g.oneOf(() -> g.intBetween(0, headerEnd), () -> g.intBetween(0, ORIGINAL.length - 1));
        long value = g.oneOf(g::anyLong, () -> g.of(0L, -1L, 1L, 0xFFFFFFFFL, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32,
                1L << 40, 0x7FFFFFFFL, 64L, 512L));
        return new Damage(g.intBetween(0, 4), pos, value);
    }

    static Stream<Long> damageSeeds() {
        return Seeded.seeds("damagedFilesLoadOrFailWithAMessage", 300);
    }

    /** Where the tensor data starts: damage before it hits metadata and tensor infos. */
    static int headerSize() {
        try (GgufFile f = GgufFile.open(DIR.resolve("seed.gguf"))) {
            return (int) f.dataOffset();
        }
    }

    /** The rule for every step: fine, or a clear refusal. Returns whether the step succeeded. */
    static boolean step(Runnable r) {
        try {
            r.run();
            return true;
        } catch (Mla4jException | IllegalArgumentException e) {
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isBlank(), "empty message: " + e);
            return false;
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("damageSeeds")
    void damagedFilesLoadOrFailWithAMessage(long seed) throws Exception {
        Damage d = damage(new Seeded(seed));
        Seeded.check(getClass(), "damagedFilesLoadOrFailWithAMessage", seed, d, HostileFilePropertiesTest::simpler,
                HostileFilePropertiesTest::loadDamaged);
    }

    /** The same damage with a simpler value, or earlier in the file. */
    static List<Damage> simpler(Damage d) {
        List<Damage> out = new java.util.ArrayList<>();
        for (long v : Seeded.simpler(d.value())) out.add(new Damage(d.kind(), d.pos(), v));
        for (long p : Seeded.simpler(d.pos())) out.add(new Damage(d.kind(), (int) p, d.value()));
        return out;
    }

    private static void loadDamaged(Damage d) throws IOException {
        Path file = DIR.resolve("damaged.gguf");
        Files.write(file, d.apply(ORIGINAL));
        try (GgufFile f = opened(file)) {
            if (f == null) return;
            for (String key : f.keys()) step(() -> f.getValue(key));
            step(() -> {
                Tokenizer t = Tokenizer.forVocabulary(Vocabulary.fromMetadata(f));
                int[] ids = t.encode("Once upon a time", true, false);
                assertTrue(ids.length > 0);
                t.decode(ids);
            });
        }
        Model[] model = new Model[1];
        if (!step(() -> model[0] = Model.load(file))) return;
        try (Model m = model[0]) {
            Session.Options small = Session.Options.defaults().withThreads(1).withContextSize(8);
            step(() -> {
                try (Session s = m.newSession(small)) {
                    assertEquals(m.hparams().vocabSize(), s.eval(0, m.hparams().vocabSize() - 1).length);
                }
            });
        }
    }

    static GgufFile opened(Path file) {
        GgufFile[] f = new GgufFile[1];
        if (!step(() -> f[0] = GgufFile.open(file))) return null;
        return f[0];
    }

    static Stream<Long> cutSeeds() {
        return Seeded.seeds("truncationAnywhereIsAFormatErrorNamingTheFile", 50);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("cutSeeds")
    void truncationAnywhereIsAFormatErrorNamingTheFile(long seed) throws Exception {
        int length = cut(new Seeded(seed));
        Seeded.check(getClass(), "truncationAnywhereIsAFormatErrorNamingTheFile", seed, length, len -> {
            Path file = DIR.resolve("truncated.gguf");
            Files.write(file, java.util.Arrays.copyOf(ORIGINAL, len));
            try {
                GgufFile.open(file).close();
                throw new AssertionError("a file truncated to " + len + " bytes was accepted");
            } catch (Mla4jException e) {
                assertTrue(List.of("MLA4J_ERR_FORMAT").contains(e.statusName()), e.getMessage());
                assertTrue(e.getMessage().contains("truncated.gguf"), e.getMessage());
            }
        });
    }

    /** Cuts before the end of the last tensor's data (the padding after it may go: the file stays valid). */
    static int cut(Seeded g) {
        try (GgufFile f = GgufFile.open(DIR.resolve("seed.gguf"))) {
            var last = f.tensors().get(f.tensors().size() - 1);
            return g.intBetween(1, (int) (f.dataOffset() + last.offset() + last.byteSize()) - 1);
        }
    }
}
