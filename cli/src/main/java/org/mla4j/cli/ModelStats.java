package org.mla4j.cli;

import java.util.Map;
import java.util.TreeMap;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;

/** Totals over a GGUF file's tensors: parameters, bytes, and a llama.cpp-style type label ("Q4_0"). */
record ModelStats(long parameters, long tensorBytes, Map<GgmlType, Integer> typeCounts, Map<GgmlType, Long> typeBytes,
        String typeLabel) {

    static ModelStats of(GgufFile gguf) {
        long params = 0;
        long bytes = 0;
        Map<GgmlType, Integer> counts = new TreeMap<>();
        Map<GgmlType, Long> bytesByType = new TreeMap<>();
        Map<GgmlType, Long> allBytes = new TreeMap<>();
        for (GgufTensorInfo t : gguf.tensors()) {
            params += t.elementCount();
            bytes += t.byteSize();
            counts.merge(t.type(), 1, Integer::sum);
            allBytes.merge(t.type(), t.byteSize(), Long::sum);
            if (t.shape().length >= 2) bytesByType.merge(t.type(), t.byteSize(), Long::sum);
        }
        // The label is the type of most matrix bytes, as llama.cpp names a file by its main type.
        String label = bytesByType.entrySet().stream().max(Map.Entry.comparingByValue())
                .map(e -> e.getKey().name()).orElse("F32");
        return new ModelStats(params, bytes, counts, allBytes, label);
    }

    /** "Q4_K 97 tensors 41.06 MiB (63.2%), Q6_K 13 tensors ...": the type mix a quantizer chose. */
    String typeMix() {
        StringBuilder sb = new StringBuilder();
        typeCounts.forEach((t, n) -> sb.append(sb.isEmpty() ? "" : ", ").append(String.format(java.util.Locale.ROOT,
                "%s %d tensor%s %s (%.1f%%)", t, n, n == 1 ? "" : "s", Format.bytes(typeBytes.get(t)),
                tensorBytes == 0 ? 0.0 : 100.0 * typeBytes.get(t) / tensorBytes)));
        return sb.toString();
    }

    /** The types of the file that mla4j cannot compute with, with their tensor counts ("IQ2_XXS 24"), or "". */
    String refusedTypes() {
        StringBuilder sb = new StringBuilder();
        typeCounts.forEach((t, n) -> {
            if (!t.computable()) sb.append(sb.isEmpty() ? "" : ", ").append(t).append(' ').append(n);
        });
        return sb.toString();
    }

    /** "F32 12, Q8_0 36". */
    String typeSummary() {
        StringBuilder sb = new StringBuilder();
        typeCounts.forEach((t, n) -> sb.append(sb.isEmpty() ? "" : ", ").append(t).append(' ').append(n));
        return sb.toString();
    }
}
