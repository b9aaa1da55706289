namespace LayoutGuidance.Evaluation;

/// <summary>Where two objects sit relative to each other: "the first is left of the second", etc.</summary>
public enum SpatialRelation
{
    LeftOf,
    RightOf,
    Above,
    Below,
}

/// <summary>
/// One requested object in one image. <see cref="Match"/> is the detection of the same colour and
/// shape assigned to it (each detection serves one request), or null when the object is missing.
/// <see cref="ColorFound"/>: some detection has the object's colour; <see cref="ColorCentered"/>: one
/// of them has its centre in the target — placement measured apart from how well the shape is drawn.
/// </summary>
public sealed record ObjectScore(RequestedObject Requested, Detection? Match, bool ColorFound, bool ColorCentered)
{
    /// <summary>VISOR's object accuracy: an object of the named colour and shape is in the image.</summary>
    public bool Found => Match is not null;

    /// <summary>IoU of the matched detection's box with the target box; 0 when missing.</summary>
    public double Iou => Match?.Box.Iou(Requested.Target) ?? 0;

    public bool IouSuccess => Iou >= LayoutMetrics.IouThreshold;

    /// <summary>The matched detection's centre lies in the target box.</summary>
    public bool CenterInBox => Match is { } m && Requested.Target.Contains(m.Box.CenterX, m.Box.CenterY);
}

/// <summary>
/// A pair of requested objects (indices into the request list) whose targets stand in
/// <see cref="Relation"/>; correct when both are found and their detected centres stand in it too.
/// </summary>
public sealed record PairScore(int First, int Second, SpatialRelation Relation, bool BothFound, bool Correct);

/// <summary>
/// The scores of one image; <see cref="Unrequested"/> are detections whose colour or shape no
/// requested object has.
/// </summary>
public sealed record ImageScore(IReadOnlyList<ObjectScore> Objects, IReadOnlyList<PairScore> Pairs, IReadOnlyList<Detection> Unrequested)
{
    public bool AllFound => Objects.All(o => o.Found);
}

/// <summary>
/// Counts over a set of images and the rates they give. A rate whose denominator is zero (no pairs,
/// say) is NaN, not 0, so "nothing to score" never reads as "all wrong".
/// </summary>
public sealed record LayoutSummary(
    int Images,
    int Objects,
    int Found,
    int ColorFound,
    int IouSuccesses,
    int CenterSuccesses,
    int ColorCenterSuccesses,
    double MeanIou,
    int ImagesAllFound,
    int Pairs,
    int PairsBothFound,
    int PairsCorrect,
    int ImagesWithUnrequested,
    int UnrequestedDetections)
{
    /// <summary>Found / Objects (VISOR's object accuracy).</summary>
    public double ObjectAccuracy => Rate(Found, Objects);

    public double ColorAccuracy => Rate(ColorFound, Objects);

    /// <summary>Objects found with IoU ≥ <see cref="LayoutMetrics.IouThreshold"/>, over all requested objects.</summary>
    public double IouSuccessRate => Rate(IouSuccesses, Objects);

    public double CenterSuccessRate => Rate(CenterSuccesses, Objects);

    /// <summary>Objects with a detection of their colour centred in the target, shape aside.</summary>
    public double ColorCenterSuccessRate => Rate(ColorCenterSuccesses, Objects);

    /// <summary>Images with every requested object found.</summary>
    public double AllFoundRate => Rate(ImagesAllFound, Images);

    /// <summary>Correct pairs over all pairs (VISOR_uncond: a missing object makes its pairs wrong).</summary>
    public double RelationAccuracy => Rate(PairsCorrect, Pairs);

    /// <summary>Correct pairs over pairs with both objects found (VISOR_cond).</summary>
    public double ConditionalRelationAccuracy => Rate(PairsCorrect, PairsBothFound);

    /// <summary>Images with at least one unrequested object.</summary>
    public double UnrequestedRate => Rate(ImagesWithUnrequested, Images);

    public double UnrequestedPerImage => Rate(UnrequestedDetections, Images);

    static double Rate(int count, int total) => total == 0 ? double.NaN : (double)count / total;
}
