package org.mla4j.serve;

/**
 * A request that cannot be served as asked: a parameter out of range, a prompt longer than the context, a chat
 * template that rejects the conversation. An HTTP server answers 400 with {@link #param()} and {@link #code()}.
 */
public final class InvalidRequestException extends RuntimeException {
    /** The offending request parameter (OpenAI's "param"), or null. */
    private final String param;
    /** The machine-readable error code (OpenAI's "code"), or null. */
    private final String code;

    /**
     * Creates the exception.
     *
     * @param param the offending parameter (OpenAI's "param"), or null
     * @param code a machine-readable code (OpenAI's "code"), or null
     * @param message what is wrong, for the client to read (OpenAI's "message")
     */
    public InvalidRequestException(String param, String code, String message) {
        super(message);
        this.param = param;
        this.code = code;
    }

    /** {@return the offending request parameter (OpenAI's "param", e.g. "max_tokens"), or null} */
    public String param() {
        return param;
    }

    /** {@return the machine-readable error code (OpenAI's "code", e.g. "invalid_value"), or null} */
    public String code() {
        return code;
    }
}
