package org.mla4j.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Holds back generated tokens while their text could still become a stop string, releases them once it cannot, and
 * cuts the reply before the first stop string found. Works on whole tokens, so every released token keeps its id
 * and log-probability; only the token in which a stop string begins is cut (its text up to the stop string). Not
 * thread-safe: one per completion.
 */
final class StopMatcher {
    private final List<String> stops;
    private final ArrayDeque<GeneratedToken> held = new ArrayDeque<>();
    private final StringBuilder heldText = new StringBuilder();
    private boolean matched;

    StopMatcher(List<String> stops) {
        this.stops = List.copyOf(stops);
    }

    /** True once a stop string was found; the reply then ends. */
    boolean matched() {
        return matched;
    }

    /** Adds a generated token; returns the tokens (in order) whose text can now be handed to the client. */
    List<GeneratedToken> push(GeneratedToken token) {
        if (stops.isEmpty()) return List.of(token);
        held.addLast(token);
        heldText.append(token.text());
        int at = firstStop();
        List<GeneratedToken> out = new ArrayList<>();
        if (at >= 0) {
            matched = true;
            int start = 0;
            for (GeneratedToken t : held) {
                int end = start + t.text().length();
                if (end <= at) {
                    out.add(t);
                } else {
                    // The token in which the stop string begins: keep its text before the stop string.
                    if (start < at) out.add(t.withText(t.text().substring(0, at - start)));
                    break;
                }
                start = end;
            }
            held.clear();
            heldText.setLength(0);
            return out;
        }
        int safe = heldText.length() - longestSuffixThatStartsAStop();
        int released = 0;
        while (!held.isEmpty() && released + held.peekFirst().text().length() <= safe) {
            GeneratedToken t = held.removeFirst();
            released += t.text().length();
            out.add(t);
        }
        heldText.delete(0, released);
        return out;
    }

    /** The tokens still held back (the reply ended for another reason: they are part of it). */
    List<GeneratedToken> flush() {
        List<GeneratedToken> out = new ArrayList<>(held);
        held.clear();
        heldText.setLength(0);
        return out;
    }

    private int firstStop() {
        int best = -1;
        for (String s : stops) {
            int i = heldText.indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int longestSuffixThatStartsAStop() {
        int best = 0;
        int n = heldText.length();
        for (String s : stops) {
            for (int len = Math.min(n, s.length() - 1); len > best; len--) {
                if (heldText.substring(n - len).equals(s.substring(0, len))) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }
}
