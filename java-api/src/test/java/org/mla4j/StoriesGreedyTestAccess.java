package org.mla4j;

import java.nio.file.Path;

/** Lets tests in other packages run the stories260K greedy generation of {@link StoriesGreedyTest}. */
public final class StoriesGreedyTestAccess {
    public static final int GREEDY_TOKENS = StoriesGreedyTest.GREEDY_IDS.length;

    private StoriesGreedyTestAccess() {
    }

    public static String generate(Path model, int n, Session.Options options, int[][] idsOut) {
        return StoriesGreedyTest.generate(model, n, options, idsOut);
    }
}
