package org.mla4j.cli;

import java.util.Map;
import java.util.TreeMap;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;

/** Totals over a GGUF file's tensors: parameters, bytes, and a llama.cpp-style type label ("Q4_0"). */
record ModelStats(long parameters, long tensorBytes, Map<GgmlType, Integer> typeCounts, String typeLabel) {

    static ModelStats of(GgufFile gguf) {
        long params = 0;
        long bytes = 0;
        Map<GgmlType, Integer> counts = new TreeMap<>();
        Map<GgmlType, Long> bytesByType = new TreeMap<>();
        for (GgufTensorInfo t : gguf.tensors()) {
            params += t.elementCount();
            bytes += t.byteSize();
            counts.merge(t.type(), 1, Integer::sum);
            if (t.shape().length >= 2) bytesByType.merge(t.type(), t.byteSize(), Long::sum);
        }
        // The label is the type of most matrix bytes, as llama.cpp names a file by its main type.
        String label = bytesByType.entrySet().stream().max(Map.Entry.comparingByValue())
                .map(e -> e.getKey().name()).orElse("F32");
        return new ModelStats(params, bytes, counts, label);
    }

    /** "F32 12, Q8_0 36". */
    String typeSummary() {
        StringBuilder sb = new StringBuilder();
        typeCounts.forEach((t, n) -> sb.append(sb.isEmpty() ? "" : ", ").append(t).append(' ').append(n));
        return sb.toString();
    }
}
