package org.mla4j.serve;

/**
 * A request that cannot be served as asked: a parameter out of range, a prompt longer than the context, a chat
 * template that rejects the conversation. An HTTP server answers 400 with {@link #param()} and {@link #code()}.
 */
public final class InvalidRequestException extends RuntimeException {
    private final String param;
    private final String code;

    /**
     * @param param the offending parameter (OpenAI's "param"), or null
     * @param code a machine-readable code (OpenAI's "code"), or null
     */
    public InvalidRequestException(String param, String code, String message) {
        super(message);
        this.param = param;
        this.code = code;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
