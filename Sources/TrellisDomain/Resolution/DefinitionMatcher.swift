/// Picks the resource definition for each resource type of one environment.
///
/// The choice depends only on the type and the environment, so it is made once per type.
struct DefinitionMatcher {
    enum Choice {
        case definition(ResourceDefinition)
        case builtIn
        case none
        case ambiguous([String])
    }

    let environment: Environment
    private var byType: [String: [ResourceDefinition]] = [:]
    private var chosen: [String: Choice] = [:]

    init(environment: Environment, definitions: [ResourceDefinition]) {
        self.environment = environment
        for definition in definitions {
            byType[definition.type, default: []].append(definition)
        }
    }

    mutating func match(type: String) -> Choice {
        if let choice = chosen[type] { return choice }
        let choice = Self.choose(among: byType[type] ?? [], for: environment, type: type)
        chosen[type] = choice
        return choice
    }

    /// The definition with the most criteria among those that match; a built-in type when
    /// none matches and the type is one.
    static func choose(among definitions: [ResourceDefinition], for environment: Environment, type: String) -> Choice {
        let matching = definitions.filter { $0.match.matches(environment) }
        guard let best = matching.map(\.match.specificity).max() else {
            return Resolver.builtInTypes.contains(type) ? .builtIn : .none
        }
        let winners = matching.filter { $0.match.specificity == best }
        guard winners.count == 1 else { return .ambiguous(winners.map(\.name).sorted()) }
        return .definition(winners[0])
    }
}

/// Deep merging of maps, for defaults under values.
enum Merging {
    /// `top` over `base`: keys of both are merged when both values are maps, else `top`
    /// wins. Keys keep `base`'s order, with `top`'s new keys after.
    static func merge(_ top: SpecMap, over base: SpecMap) -> SpecMap {
        if base.isEmpty { return top }
        if top.isEmpty { return base }
        var result = base
        for (key, value) in top {
            if let baseMap = base[key]?.mapValue, let topMap = value.mapValue {
                result[key] = SpecValue(.map(merge(topMap, over: baseMap)), mark: value.mark)
            } else {
                result[key] = value
            }
        }
        return result
    }
}
