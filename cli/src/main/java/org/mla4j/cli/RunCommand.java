package org.mla4j.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.sampling.SamplerConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", description = "Generate text from a prompt, streaming it as it is produced.")
final class RunCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file.")
    Path model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "Prompt text.")
    String prompt;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "128", description = "Tokens to generate.")
    int maxTokens;

    @Option(names = "--temp", defaultValue = "0.8", description = "Temperature; 0 = greedy.")
    float temperature;

    @Option(names = "--top-k", defaultValue = "40", description = "Top-k sampling (0 = off).")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "Top-p (nucleus) sampling (1 = off).")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "Min-p sampling (0 = off).")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "Repetition penalty (1 = off).")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "Tokens the repetition penalty looks back.")
    int repeatLastN;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "Random seed (-1 = random).")
    long seed;

    @Option(names = "--no-bos", description = "Do not add the BOS token in front of the prompt.")
    boolean noBos;

    @Option(names = "--no-display-prompt", description = "Do not print the prompt before the generated text.")
    boolean noDisplayPrompt;

    @Mixin
    SessionOptionsMixin session;

    @Override
    public Integer call() {
        if (maxTokens < 0) throw new Main.UsageException("-n must be >= 0");
        long actualSeed = seed == -1 ? System.nanoTime() : seed;
        SamplerConfig sampler = new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, actualSeed);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (Model m = Model.load(model); Session s = m.newSession(session.toOptions())) {
            Generation g = new Generation(s, m.tokenizer(), prompt,
                    new Generation.Options(maxTokens, !noBos, false, true, sampler));
            if (!noDisplayPrompt) out.print(prompt);
            out.flush();
            Generation.Stats stats = g.run(token -> {
                out.print(token.text());
                out.flush();
                return true;
            });
            out.print(g.flush());
            out.println();
            out.flush();
            System.err.printf(Locale.ROOT, "prompt: %d tokens in %.1f ms (%.2f tokens/s); generation: %d tokens in %.1f ms "
                    + "(%.2f tokens/s); stop: %s%n", stats.promptTokens(), stats.promptNanos() / 1e6,
                    stats.promptTokensPerSecond(), stats.generatedTokens(), stats.generationNanos() / 1e6,
                    stats.generationTokensPerSecond(), stats.stopReason().name().toLowerCase(Locale.ROOT));
        }
        return 0;
    }
}
