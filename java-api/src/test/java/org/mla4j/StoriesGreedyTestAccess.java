package org.mla4j;

import java.nio.file.Path;

/** Lets tests in other packages run the stories260K greedy generation of {@link StoriesGreedyTest}. */
public final class StoriesGreedyTestAccess {
    public static final int GREEDY_TOKENS = StoriesGreedyTest.GREEDY_IDS.length;
    /** The prompt and llama.cpp's greedy text for it (prompt included), from the fixtures' provenance. */
    public static final String PROMPT = StoriesGreedyTest.PROMPT;
    public static final String REFERENCE = StoriesGreedyTest.REFERENCE;

    /** [BOS, "▁Once", "▁upon", "▁a", "▁time"] as llama.cpp tokenizes the prompt. */
    public static int[] promptIds() {
        return StoriesGreedyTest.PROMPT_IDS.clone();
    }

    /** llama.cpp's 60 greedy tokens after the prompt. */
    public static int[] greedyIds() {
        return StoriesGreedyTest.GREEDY_IDS.clone();
    }

    private StoriesGreedyTestAccess() {
    }

    public static String generate(Path model, int n, Session.Options options, int[][] idsOut) {
        return StoriesGreedyTest.generate(model, n, options, idsOut);
    }
}
