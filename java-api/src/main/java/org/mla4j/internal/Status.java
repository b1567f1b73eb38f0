package org.mla4j.internal;

import org.mla4j.Mla4jException;
import org.mla4j.NativeLibrary;
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

    /**
     * Like {@link #check(int, String)} for the calls that load LAPACK/BLAS (linear algebra, calibration): when none
     * could be loaded, the message also says why the bundled OpenBLAS was not used, if that is known
     * ({@link NativeLibrary#lapackProblem()}), since the native library only lists what it tried.
     */
    public static void checkLapack(int status, String context) {
        if (status == Mla4jNative.MLA4J_ERR_UNSUPPORTED()) {
            var problem = NativeLibrary.lapackProblem();
            if (problem.isPresent()) {
                String message = Mla4jNative.mla4j_last_error().getString(0);
                String name = Mla4jNative.mla4j_status_name(status).getString(0);
                throw new Mla4jException(status, name, message + " (" + problem.get() + ")", context);
            }
        }
        check(status, context);
    }

    /** Like {@link #check(int)}, with context (e.g. "loading model.gguf") prefixed to the message. */
    public static void check(int status, String context) {
        if (status == Mla4jNative.MLA4J_OK()) return;
        String message = Mla4jNative.mla4j_last_error().getString(0);
        String name = Mla4jNative.mla4j_status_name(status).getString(0);
        throw new Mla4jException(status, name, message, context);
    }
}
