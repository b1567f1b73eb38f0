package org.mla4j.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

import org.mla4j.Generation.StopReason;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.chat.ChatFormat;
import org.mla4j.chat.ChatSession;
import org.mla4j.chat.ChatTemplate;
import org.mla4j.sampling.SamplerConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/**
 * Interactive terminal chat: reads a line, streams the reply, keeps the KV cache between turns. /reset starts
 * over, /exit (or end of input) quits. Ctrl-C while a reply is being generated stops that reply; Ctrl-C at the
 * prompt quits. Models without a chat template get the plain fallback of {@link ChatFormat}.
 */
@Command(name = "chat", description = "Chat with a model in the terminal (multi-turn, streaming; /reset, /exit).")
final class ChatCommand implements Callable<Integer> {
    static final String USER_PROMPT = "> ";

    @Option(names = {"-m", "--model"}, description = "GGUF model file or Hugging Face model "
            + "directory (default: the embedded stories260K model).")
    Path model;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "256", description = "Tokens to generate at most per reply.")
    int maxTokens;

    @Option(names = {"-sys", "--system-prompt"}, description = "System message (for templates that take one).")
    String systemPrompt;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    SessionOptionsMixin session;

    /** Sampling options shared with `run`. */
    static final class SamplingOptions {
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

        SamplerConfig toConfig() {
            long actualSeed = seed == -1 ? System.nanoTime() : seed;
            return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, actualSeed);
        }
    }

    @Override
    public Integer call() throws IOException {
        if (maxTokens < 1) throw new Main.UsageException("-n must be >= 1");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Path path = DefaultModel.orEmbedded(model, "-m");
        try (Model m = Model.load(path, session.loadOptions()); Session s = m.newSession(session.toOptions())) {
            ChatFormat format = ChatFormat.of(ChatTemplate.fromMetadata(m.gguf()), m.tokenizer());
            ChatSession chat = new ChatSession(s, m.tokenizer(), format, sampling.toConfig(), maxTokens);
            if (systemPrompt != null) chat.system(systemPrompt);
            out.println(format.hasTemplate()
                    ? "Chatting with " + path.getFileName() + " using its chat template."
                    : "Chatting with " + path.getFileName() + ": it has no chat template, so your text is given to it "
                            + "as plain text to continue.");
            out.println("/reset starts over, /exit quits; Ctrl-C stops a reply.");
            // Ctrl-C: stop the reply being generated; at the prompt, quit.
            AtomicReference<ChatSession> generating = new AtomicReference<>();
            Signal.handle(new Signal("INT"), sig -> {
                ChatSession busy = generating.get();
                if (busy != null) {
                    busy.cancel();
                } else {
                    out.println();
                    System.exit(130);
                }
            });
            while (true) {
                out.print(USER_PROMPT);
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit") || line.strip().equals("/quit")) break;
                if (line.isBlank()) continue;
                if (line.strip().equals("/reset")) {
                    chat.reset();
                    if (systemPrompt != null) chat.system(systemPrompt);
                    out.println("[conversation reset]");
                    continue;
                }
                generating.set(chat);
                ChatSession.Reply reply;
                try {
                    reply = chat.send(line, text -> {
                        out.print(text);
                        out.flush();
                    });
                } catch (IllegalStateException e) {
                    out.println("[" + e.getMessage() + "]");
                    continue;
                } finally {
                    generating.set(null);
                }
                out.println();
                if (reply.stopReason() != StopReason.END_OF_GENERATION) {
                    out.println("[" + reply.stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' ') + "]");
                }
            }
        }
        return 0;
    }
}
