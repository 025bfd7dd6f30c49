//! Groups voice embeddings into speakers: agglomerative clustering with average linkage on
//! cosine similarity, weighted by speech duration.
//!
//! A recording is expected to hold two voices (salesperson and customer), sometimes a third
//! (a companion), sometimes only one audible voice. Clusters are merged until `max_speakers`
//! remain; while any cluster holds less than `min_share` of the speech (a cough, a short
//! noisy piece), merges must involve such a small cluster, so outliers cannot take a
//! speaker's place. Then the evidence decides how many of those are real voices: a third
//! only if it holds `companion_min_share` of the speech and differs from both others (all
//! pair similarities under `companion_max_similarity`); two only if they differ (similarity
//! under `same_voice_similarity`); otherwise one.

use super::voice::cosine;

/// How the clustering decides; see [`crate::config::AttributionSection`] for the meaning and
/// defaults.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSettings {
    pub max_speakers: usize,
    pub same_voice_similarity: f32,
    pub companion_max_similarity: f32,
    pub companion_min_share: f64,
    pub min_share: f64,
}

/// The outcome: a cluster index per item (`None` for items without an embedding), clusters
/// numbered from 0 by their first item, and how many voices were found.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub labels: Vec<Option<usize>>,
    pub speakers: usize,
    /// Similarity of the last two clusters compared (the evidence for one voice or two), when
    /// two were compared.
    pub similarity: Option<f32>,
}

struct Cluster {
    members: Vec<usize>,
    weight: f64,
    /// Duration-weighted sum of the members' embeddings.
    sum: Vec<f32>,
}

/// Clusters `embeddings` (one per item; `weights` = seconds of speech per item).
pub fn cluster(
    embeddings: &[Option<Vec<f32>>],
    weights: &[f64],
    s: &ClusterSettings,
) -> Clustering {
    let items: Vec<usize> = (0..embeddings.len())
        .filter(|&i| embeddings[i].is_some())
        .collect();
    let mut clusters: Vec<Cluster> = items
        .iter()
        .map(|&i| {
            let w = weights.get(i).copied().unwrap_or(1.0).max(1e-3);
            Cluster {
                members: vec![i],
                weight: w,
                sum: embeddings[i]
                    .as_ref()
                    .map(|e| e.iter().map(|x| x * w as f32).collect())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let total: f64 = clusters.iter().map(|c| c.weight).sum();
    // Average-linkage similarity matrix, updated by Lance-Williams on every merge.
    let n = clusters.len();
    let mut sim = vec![vec![0f32; n]; n];
    for a in 0..n {
        for b in a + 1..n {
            let (ea, eb) = (&embeddings[items[a]], &embeddings[items[b]]);
            if let (Some(ea), Some(eb)) = (ea, eb) {
                sim[a][b] = cosine(ea, eb);
                sim[b][a] = sim[a][b];
            }
        }
    }
    let mut alive: Vec<bool> = vec![true; n];
    let mut count = n;
    let target = s.max_speakers.clamp(1, 3);
    while count > target {
        let small = |k: usize| clusters[k].weight < s.min_share * total;
        let any_small = (0..n).any(|k| alive[k] && small(k));
        let mut best: Option<(usize, usize, f32)> = None;
        for a in (0..n).filter(|&k| alive[k]) {
            for b in (a + 1..n).filter(|&k| alive[k]) {
                if any_small && !small(a) && !small(b) {
                    continue;
                }
                if best.is_none_or(|(_, _, v)| sim[a][b] > v) {
                    best = Some((a, b, sim[a][b]));
                }
            }
        }
        let Some((a, b, _)) = best else { break };
        let (wa, wb) = (clusters[a].weight, clusters[b].weight);
        for k in (0..n).filter(|&k| alive[k] && k != a && k != b) {
            let v = ((wa * f64::from(sim[a][k]) + wb * f64::from(sim[b][k])) / (wa + wb)) as f32;
            sim[a][k] = v;
            sim[k][a] = v;
        }
        let moved = std::mem::take(&mut clusters[b].members);
        let moved_sum = std::mem::take(&mut clusters[b].sum);
        clusters[a].members.extend(moved);
        clusters[a].weight += wb;
        clusters[a]
            .sum
            .iter_mut()
            .zip(moved_sum)
            .for_each(|(x, y)| *x += y);
        alive[b] = false;
        count -= 1;
    }
    let mut kept: Vec<Cluster> = clusters
        .into_iter()
        .zip(alive)
        .filter(|(_, a)| *a)
        .map(|(c, _)| c)
        .collect();
    let centroid_sim = |x: &Cluster, y: &Cluster| cosine(&x.sum, &y.sum);
    if kept.len() == 3 {
        let pairs = [(0, 1), (0, 2), (1, 2)];
        let distinct = pairs
            .iter()
            .all(|&(a, b)| centroid_sim(&kept[a], &kept[b]) < s.companion_max_similarity);
        let smallest = kept.iter().map(|c| c.weight).fold(f64::MAX, f64::min);
        if !(distinct && smallest >= s.companion_min_share * total) {
            // Not a clear third voice: fold the smallest cluster into its closest one.
            kept.sort_by(|x, y| y.weight.total_cmp(&x.weight));
            if let Some(last) = kept.pop() {
                let closer =
                    usize::from(centroid_sim(&last, &kept[1]) > centroid_sim(&last, &kept[0]));
                merge_into(&mut kept[closer], last);
            }
        }
    }
    let similarity = (kept.len() == 2).then(|| centroid_sim(&kept[0], &kept[1]));
    if similarity.is_some_and(|v| v >= s.same_voice_similarity) {
        if let Some(last) = kept.pop() {
            merge_into(&mut kept[0], last);
        }
    }
    kept.sort_by_key(|c| c.members.iter().min().copied());
    let mut labels = vec![None; embeddings.len()];
    for (k, c) in kept.iter().enumerate() {
        for &m in &c.members {
            labels[m] = Some(k);
        }
    }
    Clustering {
        labels,
        speakers: kept.len(),
        similarity,
    }
}

fn merge_into(into: &mut Cluster, from: Cluster) {
    into.members.extend(from.members);
    into.weight += from.weight;
    into.sum.iter_mut().zip(from.sum).for_each(|(x, y)| *x += y);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_speakers: usize) -> ClusterSettings {
        ClusterSettings {
            max_speakers,
            same_voice_similarity: 0.9,
            companion_max_similarity: 0.5,
            companion_min_share: 0.1,
            min_share: 0.05,
        }
    }

    /// A unit vector near axis `axis`, jittered by `j`.
    fn near(axis: usize, j: f32) -> Option<Vec<f32>> {
        let mut v = vec![0.05f32; 8];
        v[axis] = 1.0;
        v[(axis + 1) % 8] += j;
        Some(v)
    }

    #[test]
    fn two_voices_and_an_unembedded_item() {
        let e = vec![near(0, 0.0), near(1, 0.1), near(0, 0.1), None, near(1, 0.0)];
        let c = cluster(&e, &[2.0, 2.0, 2.0, 0.2, 2.0], &settings(2));
        assert_eq!(c.speakers, 2);
        assert_eq!(c.labels, vec![Some(0), Some(1), Some(0), None, Some(1)]);
    }

    #[test]
    fn a_short_outlier_does_not_become_a_speaker() {
        // Two voices with lots of speech, and one short odd item: it joins a voice.
        let mut e = vec![near(0, 0.0), near(1, 0.0), near(0, 0.05), near(1, 0.05)];
        e.push(near(5, 0.0));
        let c = cluster(&e, &[10.0, 10.0, 10.0, 10.0, 0.5], &settings(2));
        assert_eq!(c.speakers, 2);
        assert_eq!(c.labels[0], c.labels[2]);
        assert_eq!(c.labels[1], c.labels[3]);
        assert_ne!(c.labels[0], c.labels[1]);
    }

    #[test]
    fn one_voice_stays_one_and_a_clear_third_is_found() {
        let same = vec![near(0, 0.0), near(0, 0.02), near(0, 0.04)];
        let c = cluster(&same, &[3.0, 3.0, 3.0], &settings(2));
        assert_eq!(c.speakers, 1);
        assert!(c.labels.iter().all(|l| *l == Some(0)));
        let three = vec![near(0, 0.0), near(3, 0.0), near(6, 0.0), near(3, 0.02)];
        let c = cluster(&three, &[5.0, 5.0, 5.0, 5.0], &settings(3));
        assert_eq!(c.speakers, 3);
        assert_eq!(c.labels, vec![Some(0), Some(1), Some(2), Some(1)]);
        // The same third voice with too little speech is folded in.
        let c = cluster(&three, &[5.0, 5.0, 0.5, 5.0], &settings(3));
        assert_eq!(c.speakers, 2);
    }
}
