package org.mla4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE ({@code tokenizer.ggml.model = gpt2}) with llama.cpp's semantics ({@code llm_tokenizer_bpe}):
 * text between special tokens is split into words by the pre-tokenizer named in {@code tokenizer.ggml.pre},
 * each word is written in GPT-2's byte-to-unicode form, and its characters are merged pairwise, always the
 * adjacent pair with the lowest merge rank (ties: the leftmost). A final symbol that is not a token falls
 * back to the tokens of its single bytes (dropped when there is none, as llama.cpp does).
 *
 * <p>Words repeat a lot in real text, so the ids of each word are cached (bounded); the cache only remembers
 * results and never changes them.
 */
public final class BpeTokenizer extends VocabularyTokenizer {
    private static final int CACHE_LIMIT = 1 << 16;
    /** Separates the two halves of a merge in the rank map's keys; byte-level tokens never contain it. */
    private static final char MERGE_SEPARATOR = '\u0000';

    private final PreTokenizer preTokenizer;
    private final Map<String, Integer> ranks;
    /**
     * The same merges by token ids: (left id, right id) -> rank, and each rank's merged token id. Only usable when
     * every merge joins two tokens into a token ({@link #idMerges}), as in every real byte-level vocabulary; the
     * string path above is the general one and gives the same result.
     */
    private final LongIntMap pairRanks;
    private final int[] mergedIds;
    private final boolean idMerges;
    /** Token of each byte's single character, or -1. */
    private final int[] byteIds = new int[256];
    private final Map<String, int[]> wordCache = new ConcurrentHashMap<>();

    /**
     * A tokenizer for a byte-level BPE vocabulary.
     *
     * @param vocabulary the vocabulary (with merges and a pre-tokenizer name)
     */
    public BpeTokenizer(Vocabulary vocabulary) {
        super(vocabulary, ByteLevel::decode);
        this.preTokenizer = PreTokenizer.forName(vocabulary.pre());
        this.ranks = ranks(vocabulary.merges());
        List<String> merges = vocabulary.merges();
        this.pairRanks = new LongIntMap(merges.size());
        this.mergedIds = new int[merges.size()];
        boolean closed = true;
        for (int i = 0; i < merges.size() && closed; i++) {
            String merge = merges.get(i);
            int space = merge.indexOf(' ', 1);
            if (space < 0) {
                continue;
            }
            int left = vocabulary.idOrMinusOne(merge.substring(0, space));
            int right = vocabulary.idOrMinusOne(merge.substring(space + 1));
            int merged = vocabulary.idOrMinusOne(merge.substring(0, space) + merge.substring(space + 1));
            closed = left >= 0 && right >= 0 && merged >= 0;
            if (closed) {
                mergedIds[i] = merged;
                pairRanks.putIfAbsent(pairKey(left, right), i);
            }
        }
        this.idMerges = closed;
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocabulary.idOrMinusOne(String.valueOf(ByteLevel.charOf(b)));
        }
    }

    /** Merge ranks as llama.cpp reads them: "left right" split at the first space after position 0, first wins. */
    private static Map<String, Integer> ranks(List<String> merges) {
        Map<String, Integer> ranks = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) {
            String merge = merges.get(i);
            int space = merge.indexOf(' ', 1);
            if (space < 0) {
                continue; // llama.cpp stores it as an empty pair, which never matches
            }
            ranks.putIfAbsent(merge.substring(0, space) + MERGE_SEPARATOR + merge.substring(space + 1), i);
        }
        return ranks;
    }

    /** {@return the {@code tokenizer.ggml.pre} name in use ("default" when the metadata has none)} */
    public String preTokenizerName() {
        return preTokenizer.name();
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        SpecialTokens.requireWellFormed(text);
        IntList out = new IntList(text.length() / 3 + 4);
        if (addSpecial && vocabulary.addBos()) {
            out.add(vocabulary.bos());
        }
        for (SpecialTokens.Fragment fragment : special.split(text, parseSpecial)) {
            if (fragment.isToken()) {
                out.add(fragment.token());
            } else {
                String piece = text.substring(fragment.start(), fragment.end());
                preTokenizer.split(piece, 0, piece.length(), (start, end) -> out.addAll(word(piece.substring(start, end))));
            }
        }
        if (addSpecial && vocabulary.addEos()) {
            out.add(vocabulary.eos());
        }
        return out.toArray();
    }

    /** The ids of one pre-tokenized word, from the cache when it has been seen before. */
    private int[] word(String word) {
        int[] ids = wordCache.get(word);
        if (ids == null) {
            String encoded = preTokenizer.ignoreMerges() ? ByteLevel.encode(word) : null;
            int whole = encoded != null ? vocabulary.idOrMinusOne(encoded) : -1;
            ids = whole >= 0 ? new int[] {whole} : idMerges ? mergeIds(word) : null;
            if (ids == null) {
                ids = encodeWord(encoded != null ? encoded : ByteLevel.encode(word));
            }
            if (wordCache.size() < CACHE_LIMIT) {
                wordCache.put(word, ids);
            }
        }
        return ids;
    }

    private int[] encodeWord(String word) {
        if (preTokenizer.ignoreMerges()) {
            int id = vocabulary.idOrMinusOne(word);
            if (id >= 0) {
                return new int[] {id};
            }
        }
        IntList out = new IntList(word.length());
        merge(word, out);
        return out.toArray();
    }

    /**
     * Merges the characters of a byte-level word (one char per byte, so symbol i starts at char i) by rank.
     * Symbols form a linked list; a merge grows the left symbol and empties the right one. A queue entry is
     * (rank, left); it is stale when the pair now at {@code left} has another rank, i.e. other text.
     */
    private void merge(String word, IntList out) {
        int n = word.length();
        int[] length = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            length[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap queue = new LongHeap(n);
        for (int i = 1; i < n; i++) {
            offer(word, i - 1, i, length, queue);
        }
        while (!queue.isEmpty()) {
            long entry = queue.poll();
            int rank = (int) (entry >>> 32);
            int left = (int) entry;
            int right = next[left];
            if (length[left] == 0 || right < 0 || rank(word, left, right, length) != rank) {
                continue;
            }
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(word, prev[left], left, length, queue);
            }
            if (next[left] >= 0) {
                offer(word, left, next[left], length, queue);
            }
        }
        for (int i = 0; i != -1; i = next[i]) {
            emitSymbol(word.substring(i, i + length[i]), out);
        }
    }

    /**
     * {@link #merge} on token ids: symbols start as the tokens of the word's UTF-8 bytes and a merge replaces the
     * left one by the merged token. Returns null when a byte has no token (the string path handles that).
     */
    private int[] mergeIds(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        int n = bytes.length;
        int[] symbol = new int[n]; // token id, -1 once merged into the symbol on its left
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            symbol[i] = byteIds[bytes[i] & 0xFF];
            if (symbol[i] < 0) {
                return null;
            }
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap queue = new LongHeap(n);
        for (int i = 1; i < n; i++) {
            offerIds(symbol, i - 1, i, queue);
        }
        int count = n;
        while (!queue.isEmpty()) {
            long entry = queue.poll();
            int rank = (int) (entry >>> 32);
            int left = (int) entry;
            int right = next[left];
            if (symbol[left] < 0 || right < 0 || pairRanks.get(pairKey(symbol[left], symbol[right])) != rank) {
                continue;
            }
            symbol[left] = mergedIds[rank];
            symbol[right] = -1;
            count--;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offerIds(symbol, prev[left], left, queue);
            }
            if (next[left] >= 0) {
                offerIds(symbol, left, next[left], queue);
            }
        }
        int[] ids = new int[count];
        for (int i = 0, k = 0; i != -1; i = next[i]) {
            ids[k++] = symbol[i];
        }
        return ids;
    }

    private void offerIds(int[] symbol, int left, int right, LongHeap queue) {
        int rank = pairRanks.get(pairKey(symbol[left], symbol[right]));
        if (rank >= 0) {
            queue.add(((long) rank << 32) | left);
        }
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private void offer(String word, int left, int right, int[] length, LongHeap queue) {
        int rank = rank(word, left, right, length);
        if (rank >= 0) {
            queue.add(((long) rank << 32) | left);
        }
    }

    private int rank(String word, int left, int right, int[] length) {
        String key = word.substring(left, left + length[left]) + MERGE_SEPARATOR
                + word.substring(right, right + length[right]);
        Integer rank = ranks.get(key);
        return rank == null ? -1 : rank;
    }

    private void emitSymbol(String symbol, IntList out) {
        int id = vocabulary.idOrMinusOne(symbol);
        if (id >= 0) {
            out.add(id);
            return;
        }
        for (int i = 0; i < symbol.length(); i++) {
            int byteId = vocabulary.idOrMinusOne(String.valueOf(symbol.charAt(i)));
            if (byteId >= 0) {
                out.add(byteId);
            }
        }
    }

    /**
     * Ids to text like llama.cpp's {@code llama_detokenize(..., remove_special=false, unparse_special=false)},
     * except that the clean_up_tokenization_spaces pass (which drops the space in " ?", " 's" and the like) is
     * not applied, so that decoding gives back exactly the text that was encoded.
     */
    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean stripSpace = vocabulary.addSpacePrefix();
        for (int id : ids) {
            byte[] piece = piece(id, false);
            int skip = stripSpace && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            out.write(piece, skip, piece.length - skip);
            stripSpace = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] pieceBytes(int id, boolean renderSpecial) {
        return piece(id, renderSpecial).clone();
    }

    /** Binary min-heap of longs: the queue of candidate merges, without boxing. */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(capacity, 4)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void add(long value) {
            if (size == heap.length) {
                heap = Arrays.copyOf(heap, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) {
                    break;
                }
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long poll() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && heap[child + 1] < heap[child]) {
                    child++;
                }
                if (heap[child] >= last) {
                    break;
                }
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
