package org.mla4j.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.chat.ChatFormat;
import org.mla4j.chat.ChatMessage;
import org.mla4j.chat.ChatTemplate;
import org.mla4j.sampling.SamplerConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", description = "Generate text from a prompt, streaming it as it is produced.")
final class RunCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, description = "GGUF model file or Hugging Face model "
            + "directory (default: the embedded stories260K model).")
    Path model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "Prompt text.")
    String prompt;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "128", description = "Tokens to generate.")
    int maxTokens;

    @Option(names = "--no-bos", description = "Do not add the BOS token in front of the prompt.")
    boolean noBos;

    @Option(names = "--no-display-prompt", description = "Do not print the prompt before the generated text.")
    boolean noDisplayPrompt;

    @Option(names = "--chat", description = "Send the prompt as one user message through the model's chat template "
            + "(models without one get the prompt as plain text, said on stderr).")
    boolean chat;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ChatCommand.SamplingOptions sampling;

    @Mixin
    SessionOptionsMixin session;

    @Override
    public Integer call() {
        if (maxTokens < 0) throw new Main.UsageException("-n must be >= 0");
        SamplerConfig sampler = sampling.toConfig();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Path path = DefaultModel.orEmbedded(model, "-m");
        try (Model m = Model.load(path, session.loadOptions()); Session s = m.newSession(session.toOptions())) {
            SessionOptionsMixin.warnIfNotLocked(m, session.mlock);
            String text = prompt;
            boolean addSpecial = !noBos;
            boolean parseSpecial = false;
            boolean templated = false; // a templated prompt is not shown: only the reply is
            if (chat) {
                ChatFormat format = ChatFormat.of(ChatTemplate.fromMetadata(m.gguf()), m.tokenizer());
                if (!format.hasTemplate()) {
                    System.err.println("mla4j: " + path.getFileName() + " has no chat template; the prompt is used as "
                            + "plain text");
                }
                ChatFormat.Prompt p = format.prompt(List.of(ChatMessage.user(prompt)), true);
                text = p.text();
                addSpecial = !noBos && p.addSpecial();
                parseSpecial = p.parseSpecial();
                templated = format.hasTemplate();
            }
            Generation g = new Generation(s, m.tokenizer(), text,
                    new Generation.Options(maxTokens, addSpecial, parseSpecial, true, sampler));
            if (!noDisplayPrompt && !templated) out.print(prompt);
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
            // --verbose (the global option) also prints how the memory is used: weights, RSS, KV cache.
            if (spec.commandLine().getParseResult().hasMatchedOption("--verbose")) {
                System.err.println(SessionOptionsMixin.memoryReport(m, s));
            }
        }
        return 0;
    }
}
