package org.mla4j.eval;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How closely a converted model follows its original on a set of token sequences (see {@link Evaluator} for the
 * definitions). Natural logarithms throughout.
 *
 * @param pplReference exp(mean NLL of the actual next token) under the reference model
 * @param pplConverted the same under the converted model
 * @param klMean mean over predicted positions of KL(reference || converted), in nats
 * @param klMax the largest per-position KL(reference || converted)
 * @param top1Agreement fraction of predicted positions where both models' most likely token is the same
 * @param maxAbsLogitDiff max |logit_reference - logit_converted| over predicted positions and the whole vocabulary
 * @param tokens number of predicted positions
 */
public record EvalResult(double pplReference, double pplConverted, double klMean, double klMax, double top1Agreement,
        double maxAbsLogitDiff, long tokens) {

    /** {@return the figures by their JSON names, in the order {@link #toJson()} writes them} */
    public Map<String, Number> asMap() {
        Map<String, Number> m = new LinkedHashMap<>();
        m.put("ppl_reference", pplReference);
        m.put("ppl_converted", pplConverted);
        m.put("kl_mean", klMean);
        m.put("kl_max", klMax);
        m.put("top1_agreement", top1Agreement);
        m.put("max_abs_logit_diff", maxAbsLogitDiff);
        m.put("tokens", tokens);
        return m;
    }

    /**
     * One JSON object with the keys ppl_reference, ppl_converted, kl_mean, kl_max, top1_agreement,
     * max_abs_logit_diff and tokens. Doubles are written in Java's shortest round-trip form (valid JSON numbers,
     * such as 1.5E-5); a non-finite figure (an infinite KL when the converted model gives a token probability 0
     * that the reference does not) is written as null, since JSON has no infinity.
     *
     * @return the JSON text
     */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Number> e : asMap().entrySet()) {
            if (sb.length() > 1) sb.append(", ");
            sb.append('"').append(e.getKey()).append("\": ");
            Number v = e.getValue();
            boolean finite = !(v instanceof Double d) || Double.isFinite(d);
            sb.append(finite ? v.toString() : "null");
        }
        return sb.append('}').toString();
    }
}
