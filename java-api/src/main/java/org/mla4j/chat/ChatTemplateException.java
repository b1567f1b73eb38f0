package org.mla4j.chat;

/** A chat template that cannot be parsed or rendered, or that rejected the conversation (raise_exception). */
public final class ChatTemplateException extends RuntimeException {
    /**
     * An exception with a message.
     *
     * @param message what went wrong
     */
    public ChatTemplateException(String message) {
        super(message);
    }

    /**
     * An exception with a message and its cause.
     *
     * @param message what went wrong
     * @param cause   the exception that caused it
     */
    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
