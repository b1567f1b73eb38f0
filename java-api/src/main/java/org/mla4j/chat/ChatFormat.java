package org.mla4j.chat;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.mla4j.tokenizer.Tokenizer;

/**
 * How a conversation becomes prompt tokens: through the model's chat template, or, for models without one
 * (e.g. stories260K, a plain text model), a plain fallback in which the messages' texts simply follow each
 * other (a user message after the first starts a new line), so the user's text is continued as a story.
 */
public final class ChatFormat {
    private final ChatTemplate template; // null: plain fallback
    private final Tokenizer tokenizer;

    private ChatFormat(ChatTemplate template, Tokenizer tokenizer) {
        this.template = template;
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /**
     * {@return the template when there is one, else the plain fallback}
     *
     * @param template the model's chat template, or empty for the plain fallback
     * @param tokenizer the model's tokenizer
     */
    public static ChatFormat of(Optional<ChatTemplate> template, Tokenizer tokenizer) {
        return new ChatFormat(template.orElse(null), tokenizer);
    }

    /** {@return true when the model has a chat template; false for the plain fallback} */
    public boolean hasTemplate() {
        return template != null;
    }

    /**
     * {@return the conversation as text; with a template and addGenerationPrompt, ending with the assistant's header}
     *
     * @param messages the conversation
     * @param addGenerationPrompt whether to end with the assistant's header (the model answers next)
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (template != null) {
            return template.render(messages, addGenerationPrompt);
        }
        StringBuilder text = new StringBuilder();
        boolean afterAssistant = false;
        for (ChatMessage m : messages) {
            if (!m.role().equals("assistant") && afterAssistant) {
                text.append('\n');
            }
            text.append(m.content());
            afterAssistant = m.role().equals("assistant");
        }
        return text.toString();
    }

    /**
     * Prompt text and how to tokenize it (the arguments of {@code Tokenizer.encode}).
     *
     * @param text the prompt text
     * @param addSpecial whether the tokenizer adds BOS (and what else the vocabulary asks for)
     * @param parseSpecial whether control-token text in it becomes control tokens
     */
    public record Prompt(String text, boolean addSpecial, boolean parseSpecial) {}

    /**
     * The prompt of a conversation. Template text is tokenized with special tokens parsed (it contains their
     * text, e.g. "&lt;|im_start|&gt;"), and BOS is added as the vocabulary asks unless the template already
     * wrote it. The plain fallback is ordinary text after BOS.
     *
     * @param messages the conversation
     * @param addGenerationPrompt whether to end with the assistant's header (the model answers next)
     * @return the text and how to tokenize it
     */
    public Prompt prompt(List<ChatMessage> messages, boolean addGenerationPrompt) {
        String text = render(messages, addGenerationPrompt);
        if (template == null) {
            return new Prompt(text, true, false);
        }
        int bos = tokenizer.bos();
        boolean templateWroteBos = bos >= 0 && text.startsWith(tokenizer.piece(bos));
        return new Prompt(text, !templateWroteBos, true);
    }

    /**
     * {@return the prompt tokens of a conversation: {@link #prompt} tokenized}
     *
     * @param messages the conversation
     * @param addGenerationPrompt whether to end with the assistant's header (the model answers next)
     */
    public int[] tokens(List<ChatMessage> messages, boolean addGenerationPrompt) {
        Prompt p = prompt(messages, addGenerationPrompt);
        return tokenizer.encode(p.text(), p.addSpecial(), p.parseSpecial());
    }
}
