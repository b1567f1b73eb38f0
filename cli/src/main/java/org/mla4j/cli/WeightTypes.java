package org.mla4j.cli;

import java.util.Locale;

import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.RowEncoder;

/** The --type values of synth and quantize: every type mla4j writes, by llama.cpp's lowercase names. */
final class WeightTypes {
    /** For help texts (picocli substitutes it at compile time, so it is spelled out). */
    static final String NAMES = "f32, f16, bf16, q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0, iq4_nl, iq4_xs, "
            + "q3_k, q2_k";

    /** What happens to rows that are not whole blocks, for help texts. */
    static final String FALLBACK = "A matrix whose rows are not whole blocks of the type gets llama-quantize's "
            + "fallback: iq4_xs->iq4_nl, q2_k/q3_k->q4_0, q4_k->q5_0, q5_k->q5_1, q6_k->q8_0, and f16 when rows "
            + "are not a multiple of 32 either; with the 32-wide types such rows stay F16 (F32 when quantize reads "
            + "F32), where llama-quantize stops.";

    private WeightTypes() {
    }

    /**
     * {@return the type named by a --type value}
     *
     * @param value a name from {@link #NAMES}, any case
     * @throws Main.UsageException naming the accepted values otherwise
     */
    static GgmlType parse(String value) {
        try {
            GgmlType t = GgmlType.valueOf(value.toUpperCase(Locale.ROOT));
            if (RowEncoder.TYPES.contains(t)) return t;
        } catch (IllegalArgumentException e) {
            // falls through to the usage error
        }
        throw new Main.UsageException("--type must be one of " + NAMES + ", not '" + value + "'");
    }
}
