package org.mla4j.chat;

import java.util.Objects;

/**
 * One message of a conversation.
 *
 * @param role    "system", "user", "assistant", or another role the model's template knows
 * @param content the message's text
 */
public record ChatMessage(String role, String content) {
    /** Checks that neither part is null. */
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    /**
     * {@return a system message}
     *
     * @param content its text
     */
    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    /**
     * {@return a user message}
     *
     * @param content its text
     */
    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    /**
     * {@return an assistant message}
     *
     * @param content its text
     */
    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
