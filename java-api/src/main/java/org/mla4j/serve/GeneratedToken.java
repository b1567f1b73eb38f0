package org.mla4j.serve;

import java.util.List;

/**
 * A generated token and the text it adds to the reply. The text is empty while a multi-byte character is incomplete
 * or while it might be the start of a stop string (it is then released with a later token), and is cut before a
 * stop string.
 *
 * @param id the token id
 * @param text the text this token releases
 * @param logprob natural log-probability of the token under the model's distribution at its position (the softmax
 *     of the raw logits, before sampling filters); NaN when the request asked for none
 * @param top the most likely tokens at that position, most likely first (empty unless asked for)
 */
public record GeneratedToken(int id, String text, float logprob, List<Alternative> top) {

    /**
     * A candidate token at a position and its log-probability.
     *
     * @param id the candidate's token id
     * @param logprob its natural log-probability at that position (softmax of the raw logits)
     */
    public record Alternative(int id, float logprob) {
    }

    /**
     * Copies the alternatives.
     *
     * @throws NullPointerException if top is null or holds null
     */
    public GeneratedToken {
        top = List.copyOf(top);
    }

    GeneratedToken withText(String newText) {
        return new GeneratedToken(id, newText, logprob, top);
    }
}
