package org.mla4j.examples;

import java.nio.file.Path;
import java.util.List;

import org.mla4j.EmbeddedModel;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.chat.ChatFormat;
import org.mla4j.chat.ChatMessage;
import org.mla4j.chat.ChatSession;
import org.mla4j.chat.ChatTemplate;
import org.mla4j.sampling.SamplerConfig;

/**
 * A scripted multi-turn chat through the model's chat template (Jinja, rendered as Hugging Face transformers
 * renders it). Each turn evaluates only the tokens the KV cache does not hold yet.
 *
 * <p>Usage: {@code MultiTurnChat [MODEL.gguf | HF-DIRECTORY]}. The default model, stories260K, is a story writer
 * without a chat template: this example then gives it a small template of its own, which shows how a template is
 * supplied (a model's own template, from {@code tokenizer.chat_template}, is used when it has one).
 */
public final class MultiTurnChat {

    /** For a story model: each message on its own line, so the model continues the story the user starts. */
    static final String STORY_TEMPLATE = """
            {% for message in messages %}{{ message['content'] }}
            {% endfor %}""";

    public static void main(String[] args) {
        Path path = args.length > 0 ? Path.of(args[0]) : EmbeddedModel.path();
        try (Model model = Model.load(path);
             Session session = model.newSession(Session.Options.defaults().withThreads(1))) {
            ChatTemplate template = ChatTemplate.fromMetadata(model.gguf()).orElseGet(() -> {
                System.out.println("[" + path.getFileName() + " has no chat template: using the example's own]");
                return new ChatTemplate(STORY_TEMPLATE, "", "");
            });
            ChatFormat format = ChatFormat.of(java.util.Optional.of(template), model.tokenizer());
            ChatSession chat = new ChatSession(session, model.tokenizer(), format, SamplerConfig.greedy(), 40);
            for (String user : List.of("Once upon a time there was a cat.", "The cat saw a big red ball.")) {
                System.out.println("user:      " + user);
                System.out.print("assistant: ");
                ChatSession.Reply reply = chat.send(user, text -> {
                    System.out.print(text); // streamed
                    System.out.flush();
                });
                System.out.printf("%n           [%d prompt tokens evaluated, %d generated, %s; %d tokens cached]%n",
                        reply.promptTokensEvaluated(), reply.generatedTokens(), reply.stopReason(),
                        chat.cachedTokens());
            }
            // The text the template made of the conversation (what the model read before its next reply).
            List<ChatMessage> messages = chat.messages();
            System.out.println("\nrendered conversation:\n" + format.render(messages, true));
        }
    }
}
