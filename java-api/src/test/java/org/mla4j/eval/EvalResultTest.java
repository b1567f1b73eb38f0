package org.mla4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class EvalResultTest {

    @Test
    void jsonHasExactlyTheDocumentedKeysAsNumbers() {
        EvalResult r = new EvalResult(3.5, 3.75, 1.5e-5, 0.25, 0.984375, 0.5, 511);
        assertEquals("{\"ppl_reference\": 3.5, \"ppl_converted\": 3.75, \"kl_mean\": 1.5E-5, \"kl_max\": 0.25, "
                + "\"top1_agreement\": 0.984375, \"max_abs_logit_diff\": 0.5, \"tokens\": 511}", r.toJson());
    }

    @Test
    void nonFiniteFiguresBecomeNull() {
        EvalResult r = new EvalResult(3.5, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NaN, 1, 0, 2);
        assertEquals("{\"ppl_reference\": 3.5, \"ppl_converted\": null, \"kl_mean\": null, \"kl_max\": null, "
                + "\"top1_agreement\": 1.0, \"max_abs_logit_diff\": 0.0, \"tokens\": 2}", r.toJson());
    }
}
