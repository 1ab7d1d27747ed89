//! Request parameters in the RPC wire form: flat `Name=value` pairs, lists as `Name.N[.Field]` (1-based).

/// Flat RPC parameters in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Empty parameter list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a required string.
    pub fn put(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.push((name.to_string(), value.into()));
        self
    }

    /// Add an optional string.
    pub fn opt(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.put(name, v),
            None => self,
        }
    }

    /// Add an optional boolean (`true`/`false`).
    pub fn opt_bool(self, name: &str, value: Option<bool>) -> Self {
        self.opt(name, value.map(|b| b.to_string()))
    }

    /// Add an optional integer.
    pub fn opt_int(self, name: &str, value: Option<i64>) -> Self {
        self.opt(name, value.map(|i| i.to_string()))
    }

    /// Add a list of scalars as `Name.1`, `Name.2`, ….
    pub fn list<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> Self {
        for (i, v) in values.iter().enumerate() {
            self.0.push((format!("{name}.{}", i + 1), v.as_ref().to_string()));
        }
        self
    }

    /// Add a list of structs as `Name.N.Field`; `None` fields are omitted.
    pub fn structs<T>(
        mut self,
        name: &str,
        items: &[T],
        fields: impl Fn(&T) -> Vec<(&'static str, Option<String>)>,
    ) -> Self {
        for (i, item) in items.iter().enumerate() {
            for (field, value) in fields(item) {
                if let Some(v) = value {
                    self.0.push((format!("{name}.{}.{field}", i + 1), v));
                }
            }
        }
        self
    }

    /// Value of a parameter, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_structs_flatten_one_based() {
        let p = Params::new()
            .put("RegionId", "cn-hangzhou")
            .opt("Missing", None::<String>)
            .opt_bool("AutoAcceptEnabled", Some(true))
            .list("SupportedRegionList", &["cn-beijing", "cn-shanghai"])
            .structs("Tag", &[("k1", "v1"), ("k2", "")], |(k, v)| {
                vec![("Key", Some(k.to_string())), ("Value", Some(v.to_string()))]
            })
            .structs("Resource", &[("nlb-1", None::<&str>)], |(id, zone)| {
                vec![("ResourceId", Some(id.to_string())), ("ZoneId", zone.map(str::to_string))]
            });
        let want: Vec<(String, String)> = [
            ("RegionId", "cn-hangzhou"),
            ("AutoAcceptEnabled", "true"),
            ("SupportedRegionList.1", "cn-beijing"),
            ("SupportedRegionList.2", "cn-shanghai"),
            ("Tag.1.Key", "k1"),
            ("Tag.1.Value", "v1"),
            ("Tag.2.Key", "k2"),
            ("Tag.2.Value", ""),
            ("Resource.1.ResourceId", "nlb-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p.0, want);
    }
}
