package org.mla4j.server;

/**
 * An error answered in OpenAI's error-object shape: {@code {"error": {"message", "type", "param", "code"}}} with an
 * HTTP status.
 */
final class ApiException extends RuntimeException {
    final int status;
    final String type;
    final String param;
    final String code;

    ApiException(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: the request is malformed or asks for something impossible. */
    static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", param, code, message);
    }

    /** 400: a known field holds a value of the wrong JSON type. */
    static ApiException wrongType(String param, String expected) {
        return invalid(param, "invalid_type", "Invalid type for '" + param + "': expected " + expected + ".");
    }
}
