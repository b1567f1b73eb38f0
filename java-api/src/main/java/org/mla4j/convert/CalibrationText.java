package org.mla4j.convert;

import java.io.IOException;
import java.util.List;

import org.mla4j.Model;
import org.mla4j.eval.SampledText;
import org.mla4j.eval.TextSequences;

/**
 * The calibration token sequences: the calibration file in the model's own tokenizer, or, without a file, text the
 * original model samples from BOS with the calibration seed (so conversion needs no dataset).
 */
final class CalibrationText {
    private CalibrationText() {
    }

    static List<int[]> sequences(Model model, ConvertOptions o, Converter.Progress progress) throws IOException {
        int length = Math.min(o.calibSequence(), model.hparams().contextLength());
        if (o.calibration() != null) {
            return TextSequences.fromFile(model, o.calibration(), length, o.calibTokens());
        }
        return SampledText.generate(model, o.calibTokens(), o.seed(), length, o.threads(),
                done -> progress.update("calibration text", done, o.calibTokens()));
    }
}
