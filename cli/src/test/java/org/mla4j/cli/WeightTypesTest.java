package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.RowEncoder;

class WeightTypesTest {
    @Test
    void helpListsEveryEncodableType() {
        // NAMES is spelled out for picocli's annotations: it must follow the encoders
        assertEquals(RowEncoder.typeNames(), WeightTypes.NAMES);
    }

    @Test
    void llamaCppLowercaseNamesParse() {
        assertEquals(GgmlType.Q4_K, WeightTypes.parse("q4_k"));
        assertEquals(GgmlType.IQ4_XS, WeightTypes.parse("iq4_xs"));
        assertEquals(GgmlType.Q5_1, WeightTypes.parse("Q5_1"));
    }

    @Test
    void typesWithoutAnEncoderAreUsageErrors() {
        for (String bad : new String[] {"iq2_xxs", "q8_k", "q5_9", ""}) {
            Main.UsageException e = assertThrows(Main.UsageException.class, () -> WeightTypes.parse(bad));
            assertTrue(e.getMessage().contains("q4_k") && e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }
}
