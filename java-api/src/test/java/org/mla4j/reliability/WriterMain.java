package org.mla4j.reliability;

import java.nio.file.Path;

import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * The Java API's writers as a child process for {@link SigkillTest}:
 * {@code synth PRESET TYPE SEED OUT} (Synth through GgufWriter) or {@code quantize IN OUT TYPE} (GgufQuantizer).
 */
public final class WriterMain {
    private WriterMain() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "synth" -> Synth.write(SynthSpec.preset(args[1]), GgmlType.valueOf(args[2]), Long.parseLong(args[3]),
                    Path.of(args[4]), (tensor, done, total) -> { });
            case "quantize" -> GgufQuantizer.quantize(Path.of(args[1]), Path.of(args[2]), GgmlType.valueOf(args[3]),
                    d -> { });
            default -> throw new IllegalArgumentException("unknown writer " + args[0]);
        }
    }
}
