package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgufFile;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.synth.ProgressListener;

/**
 * The real stories260K model (a SentencePiece vocabulary) through a Hugging Face directory and back: the same
 * greedy continuation as llama.cpp gives for the original (StoriesGreedyTest's ids), and the same token ids.
 */
class StoriesHfTest {
    @TempDir
    Path tmp;

    /** llama.cpp's greedy continuation of "Once upon a time" (StoriesGreedyTest.GREEDY_IDS, first 24). */
    static final int[] GREEDY = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
            410, 408, 419, 292, 411, 322, 265, 282};

    @Test
    void directoryRunsLikeTheGguf() throws IOException {
        Path gguf = Fixtures.require("models/stories260K.gguf");
        Path dir = tmp.resolve("stories-hf");
        try (GgufFile g = GgufFile.open(gguf)) {
            GgufToHf.write(g, dir, null, ProgressListener.NONE);
        }
        String json = Files.readString(dir.resolve(HfModelDir.TOKENIZER));
        org.junit.jupiter.api.Assertions.assertTrue(json.contains("\"byte_fallback\" : true"));
        try (Model a = Model.load(gguf); Model b = Model.load(dir)) {
            for (String s : List.of("Once upon a time", "Lily saw a big red ball.", " hello  there\nfriend",
                    "\u00fcber caf\u00e9 \u2603 123", "x")) {
                assertArrayEquals(a.tokenizer().encode(s, true, false), b.tokenizer().encode(s, true, false), s);
            }
            try (Session s = b.newSession(Session.Options.defaults().withThreads(1))) {
                Generation gen = new Generation(s, b.tokenizer(), "Once upon a time",
                        Generation.Options.of(GREEDY.length, SamplerConfig.greedy()));
                gen.run(t -> true);
                assertArrayEquals(new int[] {1, 403, 407, 261, 378}, gen.promptTokens());
                assertArrayEquals(GREEDY, gen.generatedTokens());
            }
            assertEquals(a.hparams(), b.hparams());
        }
    }
}
