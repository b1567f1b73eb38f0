package org.mla4j.examples;

import java.nio.file.Path;

import org.mla4j.EmbeddedModel;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.sampling.SamplerConfig;

/**
 * Generates text and prints each token as soon as it is produced.
 *
 * <p>Usage: {@code GenerateStreaming [MODEL.gguf | HF-DIRECTORY]}; without an argument, the model embedded in mla4j
 * (stories260K).
 */
public final class GenerateStreaming {

    public static void main(String[] args) {
        Path path = args.length > 0 ? Path.of(args[0]) : EmbeddedModel.path();
        String prompt = "Once upon a time";
        try (Model model = Model.load(path);
             Session session = model.newSession(Session.Options.defaults().withThreads(1))) {
            // Greedy: the same text on every run. SamplerConfig.defaults(seed) samples (temperature 0.8, top-k 40, ...).
            Generation generation = new Generation(session, model.tokenizer(), prompt,
                    Generation.Options.of(80, SamplerConfig.greedy()));
            System.out.print(prompt);
            Generation.Stats stats = generation.run(token -> {
                System.out.print(token.text()); // streamed: printed while the next token is computed
                System.out.flush();
                return true;                    // false would stop here
            });
            System.out.println(generation.flush()); // a character still incomplete at the end, if any
            System.out.printf("%n%d tokens, %.0f tokens/s, stopped by %s%n", stats.generatedTokens(),
                    stats.generationTokensPerSecond(), stats.stopReason());
        }
    }
}
