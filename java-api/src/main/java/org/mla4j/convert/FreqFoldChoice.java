package org.mla4j.convert;

/** The FreqFold F used when the user leaves it open and no search runs. */
final class FreqFoldChoice {
    private FreqFoldChoice() {
    }

    /**
     * The smallest valid F, d_h/m: TransMLA's auto search starts there, and on small heads folding adjacent
     * frequencies (a factor base^(2/d_h) apart) costs more than it gains (docs/BENCHMARKS.md, issue 4 fidelity).
     */
    static int choose(ConversionPlan plan) {
        return plan.source().headDimK() / plan.ropeDims();
    }
}
