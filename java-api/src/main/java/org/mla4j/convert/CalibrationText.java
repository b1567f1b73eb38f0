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
        java.util.function.LongConsumer report = done -> progress.update("calibration text", done, o.calibTokens());
        // Models too large for the search write their sequences in parallel (decoding them one at a time would
        // read every weight once per token: minutes for a 1B model); small ones keep the sequential text their
        // measured results were made with.
        if (!Search.enabled(Search.Mode.AUTO, model.hparams())) {
            return SampledText.generateParallel(model, o.calibTokens(), o.seed(), length, o.threads(), report);
        }
        return SampledText.generate(model, o.calibTokens(), o.seed(), length, o.threads(), report);
    }
}
