package org.mla4j;

import java.lang.foreign.MemorySegment;
import java.util.function.Function;

import org.mla4j.internal.NativeHandles;

/** The {@link NativeHandles.Access} of this package (registered by {@link Model}'s static initializer). */
final class NativeHandlesAccess implements NativeHandles.Access {

    @Override
    public <T> T withModel(Model model, Function<MemorySegment, T> action) {
        return model.withHandle(action);
    }

    @Override
    public <T> T withSession(Session session, Function<MemorySegment, T> action) {
        return session.withHandle(action);
    }
}
