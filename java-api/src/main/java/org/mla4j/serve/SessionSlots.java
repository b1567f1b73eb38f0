package org.mla4j.serve;

import java.util.ArrayList;
import java.util.List;

import org.mla4j.Model;
import org.mla4j.Session;

/**
 * A {@link SlotBackend} of one {@link Session} per slot. A step evaluates its work items one after the other, each
 * with all of the session's threads: on a machine with few cores one engine thread interleaving the slots' decode
 * steps beats one thread per slot fighting over the cores, and it keeps every slot's arithmetic exactly that of a
 * single session (greedy output equals {@code mla4j run}).
 */
final class SessionSlots implements SlotBackend {
    private final Session[] sessions;
    private final long bytesPerToken;
    private volatile Session running;

    SessionSlots(Model model, int slots, Session.Options options) {
        sessions = new Session[slots];
        try {
            for (int i = 0; i < slots; i++) sessions[i] = model.newSession(options);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        bytesPerToken = model.kvBytesPerToken(options.kvType());
    }

    @Override
    public int slots() {
        return sessions.length;
    }

    @Override
    public int contextSize() {
        return sessions[0].contextSize();
    }

    @Override
    public void truncate(int slot, int position) {
        sessions[slot].setPosition(position);
    }

    @Override
    public List<Result> eval(List<Work> work) {
        List<Result> out = new ArrayList<>(work.size());
        for (Work w : work) {
            Session s = sessions[w.slot()];
            s.withdrawCancel(); // a cancel that reached this session after its previous eval had ended
            running = s;
            try {
                out.add(new Result(s.eval(w.tokens()), null));
            } catch (RuntimeException e) {
                out.add(new Result(null, e));
            } finally {
                running = null;
            }
        }
        return out;
    }

    @Override
    public void cancelRunning() {
        Session s = running;
        if (s != null) s.cancel();
    }

    @Override
    public long bytesPerToken() {
        return bytesPerToken;
    }

    @Override
    public long bytesAllocated() {
        long sum = 0;
        for (Session s : sessions) if (s != null && !s.isClosed()) sum += s.kvBytes();
        return sum;
    }

    @Override
    public void close() {
        for (Session s : sessions) if (s != null) s.close();
    }
}
