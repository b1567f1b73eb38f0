package org.mla4j.internal;

import org.mla4j.Mla4jException;
import org.mla4j.bindings.Mla4jNative;

/** The one place that turns a non-zero mla4j_status into an {@link Mla4jException}. */
public final class Status {

    private Status() {
    }

    /**
     * Throws when status is not MLA4J_OK. Call it right after the native call, on the same thread: the
     * message comes from the library's thread-local last error.
     */
    public static void check(int status) {
        check(status, null);
    }

    /** Like {@link #check(int)}, with context (e.g. "loading model.gguf") prefixed to the message. */
    public static void check(int status, String context) {
        if (status == Mla4jNative.MLA4J_OK()) return;
        String message = Mla4jNative.mla4j_last_error().getString(0);
        String name = Mla4jNative.mla4j_status_name(status).getString(0);
        throw new Mla4jException(status, name, message, context);
    }
}
