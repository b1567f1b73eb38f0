package org.mla4j.cli;

import java.nio.file.Path;

import org.mla4j.EmbeddedModel;

/** The model a command uses when given none: the embedded stories260K ({@link EmbeddedModel}), said on stderr. */
final class DefaultModel {
    private DefaultModel() {
    }

    /** given, or the embedded model's extracted file (with a note on stderr naming it) when given is null. */
    static Path orEmbedded(Path given, String option) {
        if (given != null) return given;
        Path p = EmbeddedModel.path();
        System.err.println("mla4j: no " + option + " given: using the embedded " + EmbeddedModel.NAME + " model (" + p + ")");
        return p;
    }
}
