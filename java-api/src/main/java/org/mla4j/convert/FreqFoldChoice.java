package org.mla4j.convert;

/** The FreqFold F used when the user leaves it to the converter. */
final class FreqFoldChoice {
    private FreqFoldChoice() {
    }

    /** For now the smallest valid F (= d_h/m, the paper's starting point); see docs/STATUS.md. */
    static int choose(ConversionPlan plan) {
        return plan.source().headDimK() / plan.ropeDims();
    }
}
