package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;

class Llama3RopeFactorsTest {
    /**
     * Llama 3.1's rope_scaling (factor 8, low 1, high 4, original 8192, theta 500000), head dim 128: wavelengths
     * 2*pi*theta^(2i/128). Below 8192/4 = 2048 positions the factor is 1, above 8192 it is 8, and between it is
     * 1/((1-s)/8 + s) with s = (8192/wavelength - 1)/3: computed here in double from the definition.
     */
    @Test
    void llama31Factors() {
        HfConfig c = new HfConfig(Path.of("config.json"), HfConfig.Family.LLAMA, "LlamaForCausalLM", 4096, 1, 32, 8,
                128, 14336, 128256, 1e-5, 500000, 131072, false, new HfConfig.RopeScaling("llama3", 8, 1, 4, 8192), "", null);
        float[] f = Llama3RopeFactors.compute(c);
        assertEquals(64, f.length);
        int ones = 0, eights = 0, between = 0;
        for (int i = 0; i < 64; i++) {
            double wavelen = 2 * Math.PI * Math.pow(500000, 2.0 * i / 128);
            double want = wavelen < 2048 ? 1 : wavelen > 8192 ? 8 : 1 / ((1 - (8192 / wavelen - 1) / 3) / 8 + (8192 / wavelen - 1) / 3);
            assertEquals(want, f[i], 1e-5 * want, "pair " + i);
            if (want == 1) ones++; else if (want == 8) eights++; else between++;
        }
        assertEquals(64, ones + eights + between);
        assertEquals(true, ones > 0 && eights > 0 && between > 0);
    }
}
