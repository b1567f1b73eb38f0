package org.mla4j.internal;

import java.lang.foreign.MemorySegment;
import java.util.function.Function;

import org.mla4j.Model;
import org.mla4j.Session;

/**
 * The native handles of {@link Model} and {@link Session} for mla4j's own packages (org.mla4j.calib attaches its
 * statistics to a session's context); not an API. {@code org.mla4j} registers the implementation when the
 * {@link Model} class initializes, which any caller holding a Model or Session has already triggered.
 */
public final class NativeHandles {

    /** Runs an action on a native handle while its object is guaranteed to stay open (and, for a session, locked). */
    public interface Access {
        <T> T withModel(Model model, Function<MemorySegment, T> action);

        <T> T withSession(Session session, Function<MemorySegment, T> action);
    }

    private static volatile Access access;

    private NativeHandles() {
    }

    /** Called once by org.mla4j. */
    public static void register(Access a) {
        synchronized (NativeHandles.class) {
            if (access != null) throw new IllegalStateException("NativeHandles already registered");
            access = a;
        }
    }

    public static Access get() {
        Access a = access;
        if (a == null) throw new IllegalStateException("org.mla4j.Model has not registered its native handles");
        return a;
    }
}
