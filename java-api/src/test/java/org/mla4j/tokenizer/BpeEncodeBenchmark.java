package org.mla4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.mla4j.Fixtures;
import org.mla4j.gguf.GgufFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Acceptance 5: encoding 1 MB of English text with the GPT-2 vocabulary on one thread. "cold" builds a new
 * tokenizer (empty word cache) before every encode, outside the measured time; "warm" reuses one whose cache
 * already holds the text's words. Throughput = 1 MB / the measured time. Not a JUnit test: run it with the
 * command in docs/BENCHMARKS.md.
 *
 * <p>The text is generated (seeded) so that it needs no download: sentences of English words drawn with a Zipf
 * distribution from the words of the GPT-2 vocabulary, with capitals, commas, numbers and paragraphs.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx2g", "--enable-native-access=ALL-UNNAMED"})
public class BpeEncodeBenchmark {
    static final int TEXT_BYTES = 1 << 20;

    @Param({"gpt-2"})
    public String vocabulary;

    private Vocabulary vocab;
    private String text;
    private Tokenizer tokenizer;

    @Setup(Level.Trial)
    public void load() {
        Path gguf = Fixtures.dir().resolve("vocab/ggml-vocab-" + vocabulary + ".gguf");
        if (!Files.isRegularFile(gguf)) {
            throw new IllegalStateException(gguf + " not found: set MLA4J_FIXTURES to the shared fixtures directory");
        }
        try (GgufFile file = GgufFile.open(gguf)) {
            vocab = Vocabulary.fromMetadata(file);
        }
        text = englishText(vocab, TEXT_BYTES, 42);
        tokenizer = Tokenizer.forVocabulary(vocab);
    }

    /** A fresh tokenizer (empty cache) for each cold encode. */
    @State(Scope.Thread)
    public static class Cold {
        Tokenizer tokenizer;

        @Setup(Level.Invocation)
        public void fresh(BpeEncodeBenchmark b) {
            tokenizer = Tokenizer.forVocabulary(b.vocab);
        }
    }

    @Benchmark
    public int[] cold(Cold cold) {
        return cold.tokenizer.encode(text, false, false);
    }

    @Benchmark
    public int[] warm() {
        return tokenizer.encode(text, false, false);
    }

    /** About {@code bytes} bytes of English-like text from the vocabulary's whole-word tokens. */
    static String englishText(Vocabulary vocab, int bytes, long seed) {
        List<String> words = new ArrayList<>();
        for (String token : vocab.tokens()) {
            // "Ġword": a space-prefixed lowercase word in GPT-2's byte form.
            if (token.length() > 2 && token.charAt(0) == '\u0120' && token.substring(1).chars().allMatch(c -> c >= 'a' && c <= 'z')) {
                words.add(token.substring(1));
            }
        }
        // Zipf: the vocabulary lists frequent merges first, so rank order roughly follows frequency.
        double[] cumulative = new double[words.size()];
        double sum = 0;
        for (int i = 0; i < words.size(); i++) {
            sum += 1.0 / (i + 1);
            cumulative[i] = sum;
        }
        Random random = new Random(seed);
        StringBuilder out = new StringBuilder(bytes + 100);
        while (out.length() < bytes) {
            int sentenceWords = 5 + random.nextInt(20);
            for (int w = 0; w < sentenceWords; w++) {
                String word = words.get(pick(cumulative, random.nextDouble() * sum));
                if (w == 0) {
                    word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
                } else {
                    out.append(' ');
                }
                out.append(random.nextInt(40) == 0 ? String.valueOf(random.nextInt(10000)) : word);
                if (w + 1 < sentenceWords && random.nextInt(10) == 0) {
                    out.append(',');
                }
            }
            out.append(random.nextInt(6) == 0 ? ".\n\n" : ". ");
        }
        String text = out.substring(0, bytes);
        if (text.getBytes(StandardCharsets.UTF_8).length != bytes) {
            throw new IllegalStateException("the generated text is not ASCII");
        }
        return text;
    }

    private static int pick(double[] cumulative, double x) {
        int i = java.util.Arrays.binarySearch(cumulative, x);
        return Math.min(i >= 0 ? i : -i - 1, cumulative.length - 1);
    }
}
