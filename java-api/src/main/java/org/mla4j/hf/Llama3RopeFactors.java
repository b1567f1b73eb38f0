package org.mla4j.hf;

/**
 * Llama 3's rope_scaling "llama3" as the per-frequency factors llama.cpp stores in {@code rope_freqs.weight}
 * ({@code LlamaModel.generate_extra_tensors}): frequencies whose wavelength is below
 * original_context / high_freq_factor keep factor 1, those above original_context / low_freq_factor get
 * {@code factor}, and those between are interpolated. The arithmetic is float32, as torch does it there.
 */
final class Llama3RopeFactors {
    private Llama3RopeFactors() {
    }

    static float[] compute(HfConfig c) {
        HfConfig.RopeScaling s = c.ropeScaling();
        int dim = c.headDim();
        float base = (float) c.ropeTheta();
        float factor = (float) s.factor(), low = (float) s.lowFreqFactor(), high = (float) s.highFreqFactor();
        double lowWavelen = s.originalContext() / s.lowFreqFactor();
        double highWavelen = s.originalContext() / s.highFreqFactor();
        float[] out = new float[dim / 2];
        for (int i = 0; i < out.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            float freq = 1.0f / (float) Math.pow(base, exponent);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highWavelen) {
                out[i] = 1;
            } else if (wavelen > lowWavelen) {
                out[i] = factor;
            } else {
                float smooth = ((float) s.originalContext() / wavelen - low) / (high - low);
                out[i] = 1 / ((1 - smooth) / factor + smooth);
            }
        }
        return out;
    }
}
